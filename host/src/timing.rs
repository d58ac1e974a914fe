//! `suit-agent --timings`: wall-clock time per TA command, for benchmarks (qemu/bench.sh).
//! Wraps any transport; prints one machine-readable line per command kind to standard error.

use std::time::{Duration, Instant};

use suit_common::protocol::Command;

use crate::tee::{AgentError, RawReply, Transport};

/// A transport that adds up the time spent in each command.
pub struct Timed {
    inner: Box<dyn Transport>,
    /// Parsing the command line, measured by the caller (the agent's own start-up work
    /// before anything is read or the TA reached).
    pub args: Duration,
    /// Opening the context and session (loading the TA), measured by the caller.
    pub connect: Duration,
    totals: Vec<(Command, u32, Duration)>,
}

impl Timed {
    pub fn new(inner: Box<dyn Transport>, args: Duration, connect: Duration) -> Self {
        Timed {
            inner,
            args,
            connect,
            totals: Vec::new(),
        }
    }

    /// `timing args seconds=0.002`, `timing connect seconds=0.612`, then `timing InstallBegin
    /// calls=1 seconds=0.050` in first-use order: stable words for scripts.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![
            format!("timing args seconds={:.4}", self.args.as_secs_f64()),
            format!("timing connect seconds={:.4}", self.connect.as_secs_f64()),
        ];
        for (command, calls, time) in &self.totals {
            out.push(format!(
                "timing {command:?} calls={calls} seconds={:.4}",
                time.as_secs_f64()
            ));
        }
        out
    }
}

impl Transport for Timed {
    fn invoke(&mut self, command: Command, request: &[u8]) -> Result<RawReply, AgentError> {
        let start = Instant::now();
        let reply = self.inner.invoke(command, request);
        let spent = start.elapsed();
        match self.totals.iter_mut().find(|(c, _, _)| *c == command) {
            Some((_, calls, time)) => {
                *calls += 1;
                *time += spent;
            }
            None => self.totals.push((command, 1, spent)),
        }
        reply
    }

    fn screen(&self, handed: crate::tee::Handed<'_>) -> Result<(), AgentError> {
        self.inner.screen(handed)
    }

    #[cfg(feature = "test-paths")]
    fn invoke_with_slot(
        &mut self,
        command: Command,
        request: &[u8],
        slot: usize,
    ) -> Result<RawReply, AgentError> {
        self.inner.invoke_with_slot(command, request, slot)
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        for line in self.lines() {
            crate::errln!("{line}");
        }
    }
}
