//! RESP2, the Redis serialization protocol: commands out, replies in.
//!
//! A command is an array of bulk strings; a reply is one of five types. Replies come from a
//! server we do not control, so decoding never panics and never trusts a length: lines, bulk
//! strings and nesting are bounded, and nothing is allocated ahead of the bytes that fill it.
//! Only RESP2 is spoken; a connection stays in RESP2 unless it sends `HELLO 3`, which we never do.

use std::fmt;
use std::io::{self, BufRead, ErrorKind, Read};

/// One reply from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A simple string, like `+OK`.
    Status(String),
    /// An error, like `-ERR unknown command`; the text after the `-`.
    Error(String),
    /// An integer, like `:1`.
    Integer(i64),
    /// A bulk string, or `None` for the null bulk string `$-1`.
    Bulk(Option<Vec<u8>>),
    /// An array, or `None` for the null array `*-1`.
    Array(Option<Vec<Reply>>),
}

/// The longest status, error or length line accepted, CRLF included.
pub const LINE_BYTES_MAX: usize = 64 * 1024;

/// The largest bulk string accepted: Redis's own limit (`proto-max-bulk-len`).
pub const BULK_BYTES_MAX: usize = 512 * 1024 * 1024;

/// How deeply arrays may nest. The replies this crate asks for nest at most two deep.
pub const DEPTH_MAX: usize = 8;

/// Appends the command `args` (the name first) to `out` as an array of bulk strings.
pub fn encode(args: &[&[u8]], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// Reads one reply.
///
/// Fails with [`ErrorKind::UnexpectedEof`] if the input ends first, and [`ErrorKind::InvalidData`]
/// if it is not RESP2 or exceeds a limit; after either, the stream is out of step and must be closed.
pub fn read(reader: &mut impl BufRead) -> io::Result<Reply> {
    read_nested(reader, 0)
}

/// Bulk strings are read in pieces of at most this size, so that a length is not an allocation.
const PIECE_BYTES: usize = 64 * 1024;

/// Arrays reserve room for at most this many elements before the elements arrive.
const ELEMENTS_RESERVED_MAX: usize = 1024;

fn read_nested(reader: &mut impl BufRead, depth: usize) -> io::Result<Reply> {
    let line = read_line(reader)?;
    let (&kind, text) = line.split_first().ok_or_else(|| invalid("an empty line where a reply starts"))?;
    match kind {
        b'+' => Ok(Reply::Status(String::from_utf8_lossy(text).into_owned())),
        b'-' => Ok(Reply::Error(String::from_utf8_lossy(text).into_owned())),
        b':' => parse_integer(text).map(Reply::Integer),
        b'$' => match length(text, BULK_BYTES_MAX)? {
            None => Ok(Reply::Bulk(None)),
            Some(len) => read_bulk(reader, len).map(|bytes| Reply::Bulk(Some(bytes))),
        },
        b'*' => match length(text, usize::MAX)? {
            None => Ok(Reply::Array(None)),
            Some(len) => {
                if depth >= DEPTH_MAX {
                    return Err(invalid(format!("arrays nested deeper than {DEPTH_MAX}")));
                }
                let mut elements = Vec::with_capacity(len.min(ELEMENTS_RESERVED_MAX));
                for _ in 0..len {
                    elements.push(read_nested(reader, depth + 1)?);
                }
                Ok(Reply::Array(Some(elements)))
            }
        },
        other => Err(invalid(format!("a reply of unknown type {:?}", char::from(other)))),
    }
}

/// Reads a line and returns it without its CRLF.
fn read_line(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    reader.take(LINE_BYTES_MAX as u64).read_until(b'\n', &mut line)?;
    match line.strip_suffix(b"\r\n") {
        Some(text) => Ok(text.to_vec()),
        None if line.len() >= LINE_BYTES_MAX => Err(invalid(format!("a line longer than {LINE_BYTES_MAX} bytes"))),
        None if line.ends_with(b"\n") => Err(invalid("a line that ends without CR")),
        None => Err(ErrorKind::UnexpectedEof.into()),
    }
}

/// Reads `len` bytes and the CRLF after them.
fn read_bulk(reader: &mut impl BufRead, len: usize) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(len.min(PIECE_BYTES));
    let read = reader.take(len as u64).read_to_end(&mut bytes)?;
    if read < len {
        return Err(ErrorKind::UnexpectedEof.into());
    }
    let mut end = [0; 2];
    reader.read_exact(&mut end)?;
    if &end != b"\r\n" {
        return Err(invalid("a bulk string not followed by CRLF"));
    }
    Ok(bytes)
}

/// Parses the length of a bulk string or array: `None` for -1 (null), at most `max`.
fn length(text: &[u8], max: usize) -> io::Result<Option<usize>> {
    match parse_integer(text)? {
        -1 => Ok(None),
        len => match usize::try_from(len) {
            Ok(len) if len <= max => Ok(Some(len)),
            _ => Err(invalid(format!("a length of {len}"))),
        },
    }
}

fn parse_integer(text: &[u8]) -> io::Result<i64> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| invalid(format!("{:?} where an integer belongs", String::from_utf8_lossy(text))))
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, format!("not a RESP2 reply: {}", message.into()))
}

impl fmt::Display for Reply {
    /// A short description for error messages: the type and, for small values, the value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Status(text) => write!(f, "status {text:?}"),
            Reply::Error(text) => write!(f, "error {text:?}"),
            Reply::Integer(number) => write!(f, "integer {number}"),
            Reply::Bulk(None) => write!(f, "null bulk string"),
            Reply::Bulk(Some(bytes)) => write!(f, "bulk string of {} bytes", bytes.len()),
            Reply::Array(None) => write!(f, "null array"),
            Reply::Array(Some(elements)) => write!(f, "array of {} elements", elements.len()),
        }
    }
}

#[cfg(test)]
mod tests;
