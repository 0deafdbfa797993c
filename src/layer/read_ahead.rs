//! Reading a layer on a thread of its own: the blob read, its digest check, the
//! decompression and the diff_id hash run ahead of whoever consumes the tar stream, so
//! on two cores they overlap with the file creation of the safe apply (which spends most
//! of its time in the kernel).
//!
//! The stream is handed over in bounded chunks (at most [`DEPTH`] in flight), so memory
//! stays small whatever the layer's size. What the reader thread computes at the end (the
//! diff_id) is only given by [`ReadAhead::finish`], and only when the thread read its
//! source to the end without error: a stream cut short can never pass for a whole one.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

/// Bytes per chunk handed from the reader thread.
const CHUNK: usize = 256 * 1024;
/// Chunks in flight at most (4 MiB).
const DEPTH: usize = 16;

/// The consuming side: a `Read` of what the thread produced.
pub struct ReadAhead<T> {
    rx: Option<Receiver<io::Result<Vec<u8>>>>,
    buf: Vec<u8>,
    pos: usize,
    thread: Option<JoinHandle<Option<T>>>,
}

/// Starts a thread that reads the stream `open` makes to its end, then gives the
/// reader to `end` for the result [`ReadAhead::finish`] returns.
pub fn spawn<R, T>(
    open: impl FnOnce() -> R + Send + 'static,
    end: impl FnOnce(R) -> T + Send + 'static,
) -> ReadAhead<T>
where
    R: Read,
    T: Send + 'static,
{
    let (tx, rx) = sync_channel(DEPTH);
    let thread = std::thread::spawn(move || {
        let mut r = open();
        loop {
            let mut chunk = Vec::with_capacity(CHUNK);
            match (&mut r).take(CHUNK as u64).read_to_end(&mut chunk) {
                Ok(0) => return Some(end(r)),
                Ok(_) => {
                    if tx.send(Ok(chunk)).is_err() {
                        return None; // the consumer stopped reading
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return None;
                }
            }
        }
    });
    ReadAhead {
        rx: Some(rx),
        buf: Vec::new(),
        pos: 0,
        thread: Some(thread),
    }
}

impl<T> Read for ReadAhead<T> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            let Some(rx) = &self.rx else { return Ok(0) };
            match rx.recv() {
                Ok(Ok(chunk)) => {
                    self.buf = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                // The thread ended: the stream's end, or a panic that finish() reports.
                Err(_) => {
                    self.rx = None;
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl<T> ReadAhead<T> {
    /// Reads whatever is left, then the thread's result. An error when the source failed
    /// or the thread did not reach its end.
    pub fn finish(mut self) -> io::Result<T> {
        io::copy(&mut self, &mut io::sink())?;
        self.rx = None;
        let thread = self.thread.take().expect("finish runs once");
        match thread.join() {
            Ok(Some(t)) => Ok(t),
            Ok(None) => Err(io::Error::other("the layer stream ended early")),
            Err(_) => Err(io::Error::other("the layer reader thread panicked")),
        }
    }
}

impl<T> Drop for ReadAhead<T> {
    /// Dropped unfinished: closing the channel makes the thread stop at its next chunk.
    fn drop(&mut self) {
        self.rx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_and_the_result_come_through_whole() {
        let data: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 251) as u8).collect();
        let src = data.clone();
        let mut r = spawn(move || io::Cursor::new(src), |c| c.position());
        let mut got = Vec::new();
        // Odd-sized reads cross chunk boundaries.
        let mut small = [0u8; 1000];
        loop {
            let n = r.read(&mut small).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&small[..n]);
        }
        assert_eq!(got, data);
        assert_eq!(r.finish().unwrap(), data.len() as u64);
    }

    #[test]
    fn a_failing_source_is_an_error_never_an_early_end() {
        struct Fails(usize);
        impl Read for Fails {
            fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("disk on fire"));
                }
                let n = b.len().min(self.0);
                self.0 -= n;
                Ok(n)
            }
        }
        let mut r = spawn(|| Fails(CHUNK + 5), |_| ());
        let mut sink = Vec::new();
        let e = r.read_to_end(&mut sink).unwrap_err();
        assert!(e.to_string().contains("disk on fire"), "{e}");
        let r = spawn(|| Fails(10), |_| ());
        assert!(r.finish().is_err());
    }

    #[test]
    fn a_panicking_reader_fails_finish() {
        struct Panics;
        impl Read for Panics {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                panic!("reader bug")
            }
        }
        let mut r = spawn(|| Panics, |_| ());
        let mut sink = Vec::new();
        assert_eq!(r.read_to_end(&mut sink).unwrap(), 0);
        assert!(r.finish().unwrap_err().to_string().contains("panicked"));
    }

    #[test]
    fn dropping_early_stops_the_thread() {
        let r = spawn(|| io::repeat(7).take(1 << 30), |_| ());
        drop(r); // returns: the thread saw the closed channel
    }
}
