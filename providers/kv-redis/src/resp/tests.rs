use super::*;

fn decode(bytes: &[u8]) -> io::Result<Reply> {
    read(&mut &bytes[..])
}

fn bulk(bytes: &[u8]) -> Reply {
    Reply::Bulk(Some(bytes.to_vec()))
}

/// Asserts that `bytes` is refused as invalid, with `fragment` in the message.
#[track_caller]
fn check_invalid(bytes: &[u8], fragment: &str) {
    let error = decode(bytes).expect_err("should be refused");
    assert_eq!(error.kind(), ErrorKind::InvalidData, "{error}");
    assert!(error.to_string().contains(fragment), "{error:?} should mention {fragment:?}");
}

/// The encoding of a reply, for round trips; the crate itself only encodes commands.
fn encode_reply(reply: &Reply, out: &mut Vec<u8>) {
    match reply {
        Reply::Status(text) => out.extend_from_slice(format!("+{text}\r\n").as_bytes()),
        Reply::Error(text) => out.extend_from_slice(format!("-{text}\r\n").as_bytes()),
        Reply::Integer(number) => out.extend_from_slice(format!(":{number}\r\n").as_bytes()),
        Reply::Bulk(None) => out.extend_from_slice(b"$-1\r\n"),
        Reply::Bulk(Some(bytes)) => {
            out.extend_from_slice(format!("${}\r\n", bytes.len()).as_bytes());
            out.extend_from_slice(bytes);
            out.extend_from_slice(b"\r\n");
        }
        Reply::Array(None) => out.extend_from_slice(b"*-1\r\n"),
        Reply::Array(Some(elements)) => {
            out.extend_from_slice(format!("*{}\r\n", elements.len()).as_bytes());
            for element in elements {
                encode_reply(element, out);
            }
        }
    }
}

#[test]
fn commands_are_arrays_of_bulk_strings() {
    let mut out = Vec::new();
    encode(&[b"SET", b"key", b"a\r\nb", b""], &mut out);
    assert_eq!(out, b"*4\r\n$3\r\nSET\r\n$3\r\nkey\r\n$4\r\na\r\nb\r\n$0\r\n\r\n");
    out.clear();
    encode(&[], &mut out);
    assert_eq!(out, b"*0\r\n");
}

#[test]
fn every_reply_type_decodes() {
    assert_eq!(decode(b"+OK\r\n").unwrap(), Reply::Status("OK".into()));
    assert_eq!(decode(b"-ERR no\r\n").unwrap(), Reply::Error("ERR no".into()));
    assert_eq!(decode(b":-42\r\n").unwrap(), Reply::Integer(-42));
    assert_eq!(decode(b":9223372036854775807\r\n").unwrap(), Reply::Integer(i64::MAX));
    assert_eq!(decode(b"$5\r\nhello\r\n").unwrap(), bulk(b"hello"));
    assert_eq!(decode(b"$0\r\n\r\n").unwrap(), bulk(b""));
    assert_eq!(decode(b"$4\r\n\r\n\r\n\r\n").unwrap(), bulk(b"\r\n\r\n"));
    assert_eq!(decode(b"$-1\r\n").unwrap(), Reply::Bulk(None));
    assert_eq!(decode(b"*-1\r\n").unwrap(), Reply::Array(None));
    assert_eq!(decode(b"*0\r\n").unwrap(), Reply::Array(Some(vec![])));
    assert_eq!(
        decode(b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$-1\r\n").unwrap(),
        Reply::Array(Some(vec![bulk(b"0"), Reply::Array(Some(vec![bulk(b"a"), Reply::Bulk(None)]))]))
    );
}

#[test]
fn replies_are_read_one_at_a_time() {
    let mut input: &[u8] = b":1\r\n$2\r\nab\r\n+OK\r\n";
    assert_eq!(read(&mut input).unwrap(), Reply::Integer(1));
    assert_eq!(read(&mut input).unwrap(), bulk(b"ab"));
    assert_eq!(read(&mut input).unwrap(), Reply::Status("OK".into()));
    assert_eq!(input, b"");
}

#[test]
fn replies_round_trip() {
    let big = vec![7u8; 3 * PIECE_BYTES + 5];
    let reply = Reply::Array(Some(vec![
        Reply::Status("PONG".into()),
        Reply::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into()),
        Reply::Integer(i64::MIN),
        Reply::Bulk(None),
        bulk(&big),
        Reply::Array(Some(vec![Reply::Array(None), bulk(b"\x00\xff")])),
    ]));
    let mut bytes = Vec::new();
    encode_reply(&reply, &mut bytes);
    assert_eq!(decode(&bytes).unwrap(), reply);
}

#[test]
fn every_truncation_is_an_unexpected_end() {
    let mut bytes = Vec::new();
    encode_reply(
        &Reply::Array(Some(vec![bulk(b"value"), Reply::Integer(12), Reply::Status("OK".into()), Reply::Bulk(None)])),
        &mut bytes,
    );
    for end in 0..bytes.len() {
        let error = decode(&bytes[..end]).expect_err("a truncated reply");
        assert_eq!(error.kind(), ErrorKind::UnexpectedEof, "cut at {end}: {error}");
    }
}

#[test]
fn malformed_replies_are_refused() {
    check_invalid(b"\r\n", "empty line");
    check_invalid(b"%1\r\n", "unknown type '%'");
    check_invalid(b"+OK\n", "without CR");
    check_invalid(b":12a\r\n", "integer");
    check_invalid(b":\r\n", "integer");
    check_invalid(b":99999999999999999999\r\n", "integer");
    check_invalid(b"$-2\r\n", "length of -2");
    check_invalid(b"*-5\r\n", "length of -5");
    check_invalid(b"$3\r\nabcd\r\n", "not followed by CRLF");
    check_invalid(b"$x\r\n", "integer");
}

#[test]
fn limits_hold_before_anything_is_allocated() {
    check_invalid(format!("${}\r\n", BULK_BYTES_MAX + 1).as_bytes(), "length of");
    // A huge array or bulk length with no data behind it ends early instead of allocating.
    let error = decode(b"*9223372036854775807\r\n").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedEof);
    let error = decode(format!("${BULK_BYTES_MAX}\r\nabc").as_bytes()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedEof);
    let mut long_line = vec![b'+'];
    long_line.resize(LINE_BYTES_MAX + 10, b'x');
    long_line.extend_from_slice(b"\r\n");
    check_invalid(&long_line, "longer than");
    let deep = "*1\r\n".repeat(DEPTH_MAX + 1) + ":1\r\n";
    check_invalid(deep.as_bytes(), "nested deeper");
    let deepest = "*1\r\n".repeat(DEPTH_MAX) + ":1\r\n";
    assert!(decode(deepest.as_bytes()).is_ok());
}

/// Random bytes, and random changes to valid replies, never panic the decoder.
#[test]
fn arbitrary_input_never_panics() {
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        // xorshift64*
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let alphabet = b"+-:$*\r\n0123456789-ab";
    let mut valid = Vec::new();
    encode_reply(&Reply::Array(Some(vec![bulk(b"v1"), Reply::Integer(3), Reply::Array(None)])), &mut valid);
    for _ in 0..20_000 {
        let len = (next() % 40) as usize;
        let noise: Vec<u8> = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
        let _ = decode(&noise);
        let mut mutated = valid.clone();
        let at = (next() % mutated.len() as u64) as usize;
        mutated[at] = alphabet[(next() % alphabet.len() as u64) as usize];
        let _ = decode(&mutated);
    }
}
