//! Logging: human-readable text by default, JSON lines as an option. Every
//! line written inside a request carries its request id (see the request
//! span in `app`). Every line passes through [`tollgate_core::scrub`] before
//! it leaves the process, so a secret that reached a log call by mistake
//! (an error's text, a debug dump) is replaced rather than written.

use std::io::{self, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{LogConfig, LogFormat};

pub fn init(log: &LogConfig) {
    init_with(log, io::stderr);
}

/// Logging to `writer` (tests capture the output this way), scrubbed.
pub fn init_with<W>(log: &LogConfig, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(&log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Scrubbed(writer));
    let _ = match log.format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// A [`MakeWriter`] whose writers scrub what they are given.
pub struct Scrubbed<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Scrubbed<M> {
    type Writer = ScrubbingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        ScrubbingWriter {
            inner: self.0.make_writer(),
            buf: Vec::new(),
        }
    }
}

/// Collects one event's output and writes it scrubbed when dropped: the
/// formatter makes one writer per event, so a secret is never split across
/// two writes where the scrubber could not see it whole.
pub struct ScrubbingWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> Write for ScrubbingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.emit()?;
        self.inner.flush()
    }
}

impl<W: Write> ScrubbingWriter<W> {
    fn emit(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buf);
        let clean = tollgate_core::scrub::scrub(&text);
        self.inner.write_all(clean.as_bytes())?;
        self.buf.clear();
        Ok(())
    }
}

impl<W: Write> Drop for ScrubbingWriter<W> {
    fn drop(&mut self) {
        // Nowhere to report a failed log write.
        let _ = self.emit();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_secret_written_in_pieces_is_scrubbed_whole() {
        let sink = Sink::default();
        {
            let make = Scrubbed(|| sink.clone());
            let mut w = make.make_writer();
            w.write_all(b"login with tg_live_abcd").unwrap();
            w.write_all(b"efghijklmnop failed\n").unwrap();
        }
        let out = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out, "login with tg_live_[REDACTED] failed\n");
    }
}
