//! Assertions on what a run or a refusal said.

use std::fmt::Display;

/// Asserts `text` contains `needle`, showing the whole text otherwise.
#[track_caller]
pub fn says(text: &str, needle: &str) {
    assert!(text.contains(needle), "{text}\n(lacks {needle:?})");
}

/// As [`says`], naming the case `label` in the failure message (for loops over cases).
#[track_caller]
pub fn says_as(label: impl Display, text: &str, needle: &str) {
    assert!(text.contains(needle), "{label}: {text}\n(lacks {needle:?})");
}
