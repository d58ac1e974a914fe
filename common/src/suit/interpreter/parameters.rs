//! The parameter directives of update management: override-multiple and copy-params.

use alloc::vec;
use alloc::vec::Vec;

use crate::suit::command::Parameters;
use crate::suit::error::CommandErrorKind;
use crate::suit::platform::Platform;

use super::{checked_index, Fail, Frame, Machine, SeqState};

// Update management (draft-ietf-suit-update-management): parameter directives.
impl<'x, P: Platform + ?Sized> Machine<'x, P> {
    /// suit-directive-override-multiple: an encoding alias for set-component-index +
    /// override-parameters per listed component; the component index ends on the last one.
    pub(super) fn override_multiple(
        &mut self,
        frame: &mut Frame<'_, '_>,
        list: &[(u64, Parameters)],
        st: &mut SeqState,
        path: &[u16],
    ) -> Result<(), Fail> {
        let count = frame.manifest.index_count();
        for (i, p) in list {
            let idx = checked_index(*i, count).ok_or_else(|| {
                Fail::Abort(Self::err(
                    frame,
                    path,
                    None,
                    CommandErrorKind::ComponentIndexOutOfRange(*i),
                ))
            })?;
            // set-component-index and override-parameters: each a barrier.
            st.barrier();
            Self::set_processor_parameters(frame, st, path, p, true)?;
            let id = Self::component_at(frame, path, idx)?;
            self.params_mut(&id)
                .and_then(|c| c.apply(p, true, &frame.own_signers))
                .map_err(|k| Fail::Abort(Self::err(frame, path, Some(idx), k)))?;
            st.current = Some(vec![idx]);
            st.single_index = true;
            st.all = false;
        }
        Ok(())
    }

    /// suit-directive-copy-params: for each source component, copy the listed parameters
    /// into the current component(s).
    pub(super) fn copy_params(
        &mut self,
        frame: &mut Frame<'_, '_>,
        list: &[(u64, Vec<i64>)],
        st: &mut SeqState,
        path: &[u16],
    ) -> Result<(), Fail> {
        let count = frame.manifest.index_count();
        let targets = Self::current(frame, st, path)?;
        for (i, labels) in list {
            let src = checked_index(*i, count).ok_or_else(|| {
                Fail::Abort(Self::err(
                    frame,
                    path,
                    None,
                    CommandErrorKind::ComponentIndexOutOfRange(*i),
                ))
            })?;
            let from = self.params_of(&Self::component_at(frame, path, src)?);
            for idx in &targets {
                let id = Self::component_at(frame, path, *idx)?;
                self.params_mut(&id)
                    .and_then(|c| c.copy_from(&from, labels))
                    .map_err(|k| Fail::Abort(Self::err(frame, path, Some(*idx), k)))?;
            }
        }
        Ok(())
    }
}
