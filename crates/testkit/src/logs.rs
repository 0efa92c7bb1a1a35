//! Capture of everything logged through `tracing`, formatted as JSON like production.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

/// Filter of the capture: everything at TRACE except `async_nats`, capped at DEBUG
/// because its TRACE events (target `async_nats::connection`) print raw message
/// payloads. Production filters must cap it the same way.
pub const CAPTURE_FILTER: &str = "trace,async_nats=debug";

/// A handle on the log buffer of this test binary.
///
/// `#[tokio::test]` tests run on parallel threads, so the capture is a global default
/// subscriber installed once per test binary; every handle reads the same buffer, which
/// holds the logs of all the tests of the binary. Assert on values unique to a test
/// (a generated name, a NIR) rather than on the buffer being empty.
///
/// ```no_run
/// let capture = cep_testkit::LogCapture::install();
/// // ... exercise the code ...
/// capture.assert_absent("DUPONT");
/// ```
#[derive(Clone, Debug)]
pub struct LogCapture {
    buffer: Arc<Mutex<Vec<u8>>>,
}

static CAPTURE: OnceLock<LogCapture> = OnceLock::new();

impl LogCapture {
    /// Installs (once per process) a global subscriber writing JSON lines with span
    /// fields, filtered by [`CAPTURE_FILTER`], into a shared buffer, and returns a
    /// handle on it.
    ///
    /// # Panics
    ///
    /// When another global subscriber was installed first: the capture would then see
    /// nothing and an assertion of absence would pass for the wrong reason.
    pub fn install() -> LogCapture {
        CAPTURE
            .get_or_init(|| {
                let buffer = Arc::new(Mutex::new(Vec::new()));
                tracing_subscriber::fmt()
                    .json()
                    .with_env_filter(EnvFilter::new(CAPTURE_FILTER))
                    .with_current_span(true)
                    .with_span_list(true)
                    .with_ansi(false)
                    .with_writer(BufferWriter(Arc::clone(&buffer)))
                    .finish()
                    .try_init()
                    .unwrap_or_else(|e| {
                        panic!("cannot capture logs, a global tracing subscriber is already installed: {e}")
                    });
                LogCapture { buffer }
            })
            .clone()
    }

    /// Everything captured so far, one JSON object per line.
    #[must_use]
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&lock(&self.buffer)).into_owned()
    }

    /// The captured lines that contain `needle`.
    #[must_use]
    pub fn lines_containing(&self, needle: &str) -> Vec<String> {
        self.contents()
            .lines()
            .filter(|line| line.contains(needle))
            .map(str::to_owned)
            .collect()
    }

    /// Panics, quoting the offending lines, when `needle` appears in the logs.
    ///
    /// # Panics
    ///
    /// When `needle` was logged.
    pub fn assert_absent(&self, needle: &str) {
        let lines = self.lines_containing(needle);
        assert!(
            lines.is_empty(),
            "{needle:?} appears in {} log line(s):\n{}",
            lines.len(),
            lines.join("\n")
        );
    }
}

fn lock(buffer: &Mutex<Vec<u8>>) -> MutexGuard<'_, Vec<u8>> {
    // a test that panicked while logging leaves whole lines behind: keep reading
    buffer.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes writers appending to the shared buffer.
#[derive(Clone, Debug)]
struct BufferWriter(Arc<Mutex<Vec<u8>>>);

impl io::Write for BufferWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BufferWriter {
    type Writer = BufferWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
