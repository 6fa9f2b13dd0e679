use super::*;

/// A stream that answers with canned replies and records every command sent.
struct Fake {
    replies: io::Cursor<Vec<u8>>,
    sent: Vec<u8>,
}

impl Read for Fake {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.replies.read(buffer)
    }
}

impl Write for Fake {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.sent.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A connection whose server will answer with `replies`, and the `default` bucket.
fn fake(replies: &[u8]) -> (Connection<Fake>, Bucket) {
    let stream = Fake { replies: io::Cursor::new(replies.to_vec()), sent: Vec::new() };
    (Connection::new(stream, "127.0.0.1:6379"), Bucket::open("default").unwrap())
}

/// The commands sent so far, each as its arguments (lossy UTF-8).
fn sent(connection: &Connection<Fake>) -> Vec<Vec<String>> {
    let mut bytes = &connection.stream.get_ref().sent[..];
    let mut commands = Vec::new();
    while !bytes.is_empty() {
        let Reply::Array(Some(args)) = resp::read(&mut bytes).unwrap() else { panic!("not a command") };
        let args = args
            .into_iter()
            .map(|arg| match arg {
                Reply::Bulk(Some(arg)) => String::from_utf8_lossy(&arg).into_owned(),
                other => panic!("not a bulk string: {other:?}"),
            })
            .collect();
        commands.push(args);
    }
    commands
}

fn command(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| (*arg).to_owned()).collect()
}

#[test]
fn urls_name_a_host_and_port() {
    for (url, address_expected) in [
        ("redis://127.0.0.1:6379", "127.0.0.1:6379"),
        ("redis://127.0.0.1:7000/", "127.0.0.1:7000"),
        ("redis://cache.internal", "cache.internal:6379"),
        ("redis://[::1]:7000", "[::1]:7000"),
        ("redis://[::1]", "[::1]:6379"),
    ] {
        assert_eq!(address(url).unwrap(), address_expected, "{url}");
    }
    for url in [
        "http://127.0.0.1:6379",
        "127.0.0.1:6379",
        "redis://",
        "redis://:6379",
        "redis://host:0",
        "redis://host:65536",
        "redis://host:port",
        "redis://user:secret@host",
        "redis://host:6379/2",
        "redis://host?timeout=1",
        "redis://::1",
    ] {
        let error = address(url).expect_err(url);
        assert!(matches!(error, Error::Url { .. }), "{url}: {error:?}");
        assert!(error.to_string().contains(url), "{error}");
    }
}

#[test]
fn bucket_identifiers_are_checked() {
    for identifier in ["default", "a", "A-b_9", &"x".repeat(64)] {
        assert!(Bucket::open(identifier).is_ok(), "{identifier}");
    }
    for identifier in ["", "a:b", "a*", "a b", "é", &"x".repeat(65)] {
        assert!(matches!(Bucket::open(identifier), Err(Error::NoSuchStore)), "{identifier:?}");
    }
}

#[test]
fn keys_map_to_prefixed_server_keys_and_back() {
    let bucket = Bucket::open("default").unwrap();
    for key in ["jsonstore.document", "", "a:b:c", "*?[]", "ünï\r\n"] {
        let name = bucket.server_key(key);
        assert_eq!(name, format!("jsonstore:default:{key}"));
        assert_eq!(bucket.key_of(name.as_bytes()).as_deref(), Some(key));
    }
    let other = Bucket::open("default2").unwrap();
    assert_eq!(bucket.key_of(other.server_key("k").as_bytes()), None);
    assert_eq!(other.key_of(bucket.server_key("k").as_bytes()), None);
    assert_eq!(bucket.key_of(b"jsonstore:default"), None, "the counter is not a key");
    assert_eq!(bucket.key_of(b"jsonstore:default:\xff"), None);
}

#[test]
fn get_reads_the_value_field() {
    let (mut connection, bucket) = fake(b"$5\r\nhello\r\n$-1\r\n");
    assert_eq!(bucket.get(&mut connection, "doc").unwrap().as_deref(), Some(&b"hello"[..]));
    assert_eq!(bucket.get(&mut connection, "missing").unwrap(), None);
    assert_eq!(
        sent(&connection),
        [command(&["HGET", "jsonstore:default:doc", "d"]), command(&["HGET", "jsonstore:default:missing", "d"])]
    );
}

#[test]
fn set_delete_and_exists_send_one_command_each() {
    let (mut connection, bucket) = fake(b":1\r\n:1\r\n:0\r\n:0\r\n");
    bucket.set(&mut connection, "k", b"v").unwrap();
    bucket.delete(&mut connection, "k").unwrap();
    assert!(!bucket.exists(&mut connection, "k").unwrap());
    bucket.delete(&mut connection, "k").unwrap();
    assert_eq!(
        sent(&connection),
        [
            command(&["EVALSHA", SET.sha1, "2", "jsonstore:default:k", "jsonstore:default", "v"]),
            command(&["DEL", "jsonstore:default:k"]),
            command(&["HEXISTS", "jsonstore:default:k", "d"]),
            command(&["DEL", "jsonstore:default:k"]),
        ]
    );
}

#[test]
fn a_script_the_server_lacks_is_sent_whole() {
    let (mut connection, bucket) = fake(b"-NOSCRIPT No matching script. Please use EVAL.\r\n:1\r\n");
    bucket.set(&mut connection, "k", b"v").unwrap();
    assert_eq!(
        sent(&connection),
        [
            command(&["EVALSHA", SET.sha1, "2", "jsonstore:default:k", "jsonstore:default", "v"]),
            command(&["EVAL", SET.source, "2", "jsonstore:default:k", "jsonstore:default", "v"]),
        ]
    );
}

#[test]
fn cas_reads_version_and_value_and_swaps_on_the_version() {
    let (mut connection, bucket) = fake(b"*2\r\n$2\r\n41\r\n$3\r\nold\r\n:1\r\n");
    let cas = bucket.begin_cas(&mut connection, "doc").unwrap();
    assert_eq!((cas.key(), cas.version(), cas.current()), ("doc", &b"41"[..], Some(&b"old"[..])));
    assert_eq!(bucket.swap(&mut connection, cas, b"new").unwrap(), Swap::Done);
    assert_eq!(
        sent(&connection),
        [
            command(&["HMGET", "jsonstore:default:doc", "v", "d"]),
            command(&["EVALSHA", SWAP.sha1, "2", "jsonstore:default:doc", "jsonstore:default", "41", "new"]),
        ]
    );
}

#[test]
fn an_absent_key_has_version_zero() {
    let (mut connection, bucket) = fake(b"*2\r\n$-1\r\n$-1\r\n:1\r\n");
    let cas = bucket.begin_cas(&mut connection, "doc").unwrap();
    assert_eq!((cas.version(), cas.current()), (&b"0"[..], None));
    assert_eq!(bucket.swap(&mut connection, cas, b"first").unwrap(), Swap::Done);
    assert_eq!(sent(&connection)[1][5], "0");
}

#[test]
fn a_lost_swap_returns_the_latest_version() {
    let (mut connection, bucket) =
        fake(b"*2\r\n$1\r\n7\r\n$1\r\na\r\n*2\r\n$1\r\n9\r\n$1\r\nb\r\n*2\r\n$-1\r\n$-1\r\n");
    let cas = bucket.begin_cas(&mut connection, "doc").unwrap();
    let Swap::Conflict(latest) = bucket.swap(&mut connection, cas, b"mine").unwrap() else { panic!("should conflict") };
    assert_eq!((latest.version(), latest.current()), (&b"9"[..], Some(&b"b"[..])));
    // Deleted meanwhile: the retry starts from nothing.
    let Swap::Conflict(latest) = bucket.swap(&mut connection, latest, b"mine").unwrap() else { panic!() };
    assert_eq!((latest.version(), latest.current()), (&b"0"[..], None));
}

#[test]
fn list_keys_pages_with_the_scan_cursor() {
    let (mut connection, bucket) = fake(
        b"*2\r\n$2\r\n17\r\n*3\r\n$19\r\njsonstore:default:a\r\n$21\r\njsonstore:default:b:c\r\n$15\r\njsonstore:other\r\n\
          *2\r\n$1\r\n0\r\n*0\r\n",
    );
    let (keys, cursor) = bucket.list(&mut connection, None).unwrap();
    assert_eq!((keys, cursor.as_deref()), (vec!["a".to_owned(), "b:c".to_owned()], Some("17")));
    let (keys, cursor) = bucket.list(&mut connection, Some("17")).unwrap();
    assert_eq!((keys.len(), cursor), (0, None));
    assert_eq!(
        sent(&connection),
        [
            command(&["SCAN", "0", "MATCH", "jsonstore:default:*", "COUNT", SCAN_COUNT]),
            command(&["SCAN", "17", "MATCH", "jsonstore:default:*", "COUNT", SCAN_COUNT]),
        ]
    );
}

#[test]
fn increment_returns_the_sum() {
    let (mut connection, bucket) = fake(b":-3\r\n-ERR hash value is not an integer\r\n");
    assert_eq!(bucket.increment(&mut connection, "n", -5).unwrap(), -3);
    let error = bucket.increment(&mut connection, "n", 1).unwrap_err();
    assert_eq!(error.to_string(), "increment \"n\": the Redis server said: ERR hash value is not an integer");
    assert!(!error.breaks_connection());
    assert_eq!(
        sent(&connection)[0],
        command(&["EVALSHA", INCREMENT.sha1, "2", "jsonstore:default:n", "jsonstore:default", "-5"])
    );
}

/// One operation on the bucket, its result reduced to success or the error.
type Operation<'a> = dyn Fn(&mut Connection<Fake>, &Bucket) -> Result<(), Error> + 'a;

/// Every operation, run against a server that answers `reply`.
fn every_operation(reply: &[u8]) -> Vec<Result<(), Error>> {
    let run = |operation: &Operation<'_>| {
        let (mut connection, bucket) = fake(reply);
        operation(&mut connection, &bucket)
    };
    let cas = Cas { key: "k".into(), version: b"1".to_vec(), value: None };
    vec![
        run(&|connection, bucket| bucket.get(connection, "k").map(drop)),
        run(&|connection, bucket| bucket.set(connection, "k", b"v")),
        run(&|connection, bucket| bucket.delete(connection, "k")),
        run(&|connection, bucket| bucket.exists(connection, "k").map(drop)),
        run(&|connection, bucket| bucket.list(connection, None).map(drop)),
        run(&|connection, bucket| bucket.increment(connection, "k", 1).map(drop)),
        run(&|connection, bucket| bucket.begin_cas(connection, "k").map(drop)),
        run(&|connection, bucket| bucket.swap(connection, cas.clone(), b"v").map(drop)),
    ]
}

#[test]
fn replies_of_the_wrong_shape_are_errors_not_panics() {
    let wrong: &[&[u8]] = &[
        b"+OK\r\n",
        b"$-1\r\n",
        b"*-1\r\n",
        b"*0\r\n",
        b"*1\r\n$1\r\n0\r\n",
        b"*2\r\n:1\r\n:2\r\n",
        b"*2\r\n$1\r\nx\r\n*1\r\n:1\r\n",
        b"*3\r\n$-1\r\n$-1\r\n$-1\r\n",
    ];
    for reply in wrong {
        for (index, result) in every_operation(reply).into_iter().enumerate() {
            if let Err(error) = result {
                assert!(matches!(error, Error::Reply { .. }), "{index} on {reply:?}: {error:?}");
                assert!(!error.breaks_connection());
            }
        }
    }
    // Each operation refuses at least the replies that fit no operation.
    for result in every_operation(b"+OK\r\n") {
        assert!(result.is_err());
    }
}

#[test]
fn error_replies_carry_the_servers_message() {
    for result in every_operation(b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n") {
        let error = result.unwrap_err();
        assert!(error.to_string().contains("the Redis server said: WRONGTYPE"), "{error}");
        assert!(error.to_string().contains("\"k\"") || error.to_string().starts_with("list-keys"), "{error}");
    }
}

#[test]
fn a_broken_stream_breaks_the_connection() {
    for reply in [&b""[..], b"$5\r\nhel", b"!3\r\nbad\r\n"] {
        for result in every_operation(reply) {
            let error = result.unwrap_err();
            assert!(error.breaks_connection(), "{error:?}");
            assert!(
                error.to_string().contains("the connection to the Redis server at 127.0.0.1:6379 failed"),
                "{error}"
            );
        }
    }
}

#[test]
fn connection_errors_name_the_address() {
    let refused = Error::Connect { address: "127.0.0.1:1".into(), source: ErrorKind::ConnectionRefused.into() };
    assert!(refused.to_string().starts_with("cannot connect to the Redis server at 127.0.0.1:1: "), "{refused}");
    let denied = Error::Connect { address: "10.0.0.1:6379".into(), source: ErrorKind::PermissionDenied.into() };
    assert!(denied.to_string().ends_with("(under `wasmtime serve`, pass -Sinherit-network)"), "{denied}");
    let lookup = io::Error::other("failed to lookup address information: Non-recoverable error");
    let unresolved = Error::Connect { address: "cache:6379".into(), source: lookup };
    assert!(unresolved.to_string().ends_with("pass -Sallow-ip-name-lookup to resolve host names)"), "{unresolved}");
}

/// A server that accepts commands and never answers; the socket's timeout reports `WouldBlock`.
struct Silent;

impl Read for Silent {
    fn read(&mut self, _buffer: &mut [u8]) -> io::Result<usize> {
        Err(ErrorKind::WouldBlock.into())
    }
}

impl Write for Silent {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_silent_server_times_out() {
    let mut connection = Connection::new(Silent, "127.0.0.1:6379");
    let error = Bucket::open("default").unwrap().get(&mut connection, "k").unwrap_err();
    assert!(error.breaks_connection());
    assert!(error.to_string().ends_with("failed: no progress for 30 s"), "{error}");
}
