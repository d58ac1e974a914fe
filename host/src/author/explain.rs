//! Engine errors in words. The wording lives in `suit_common::suit::explain`, shared with the
//! TA's refusals and the agent, so both tools say the same thing.

pub use suit_common::suit::explain::{error, section};
