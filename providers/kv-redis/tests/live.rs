//! The store against a real Redis-protocol server, natively: what the component exports, from
//! the other side of the socket. `cargo xtask test` sets `JSONSTORE_REDIS_SERVER`; each test
//! starts its own server on a free loopback port, without persistence.

#![cfg(feature = "e2e")]

use jsonstore_kv_redis::resp::Reply;
use jsonstore_kv_redis::server::{self, Bucket, Connection, Error, INCREMENT, SET, SWAP, Swap};
use jsonstore_testkit::Redis;
use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream};

/// A connection to `redis`.
fn connect(redis: &Redis) -> Connection<TcpStream> {
    Connection::open(&redis.address()).unwrap()
}

fn bucket() -> Bucket {
    Bucket::open("default").unwrap()
}

#[test]
fn scripts_are_cached_under_their_sha1() {
    let redis = Redis::in_memory();
    let mut connection = connect(&redis);
    for script in [&SET, &SWAP, &INCREMENT] {
        let reply = connection.call(&[b"SCRIPT", b"LOAD", script.source.as_bytes()]).unwrap();
        assert_eq!(reply, Reply::Bulk(Some(script.sha1.as_bytes().to_vec())), "{}", script.source);
    }
}

#[test]
fn values_round_trip() {
    let redis = Redis::in_memory();
    let (mut connection, bucket) = (connect(&redis), bucket());
    let big: Vec<u8> = (0..3_000_000_u32).map(|i| (i % 251) as u8).collect();
    for value in [&b""[..], b"\r\n$-1\r\n\xff\x00", &big] {
        bucket.set(&mut connection, "k", value).unwrap();
        assert_eq!(bucket.get(&mut connection, "k").unwrap().as_deref(), Some(value));
        assert!(bucket.exists(&mut connection, "k").unwrap());
    }
    bucket.delete(&mut connection, "k").unwrap();
    bucket.delete(&mut connection, "k").unwrap();
    assert_eq!(bucket.get(&mut connection, "k").unwrap(), None);
    assert!(!bucket.exists(&mut connection, "k").unwrap());
    let other = Bucket::open("other").unwrap();
    bucket.set(&mut connection, "shared-name", b"mine").unwrap();
    assert_eq!(other.get(&mut connection, "shared-name").unwrap(), None);
}

#[test]
fn a_stale_handle_loses_even_after_a_delete_and_rewrites() {
    let redis = Redis::in_memory();
    let (mut connection, bucket) = (connect(&redis), bucket());
    bucket.set(&mut connection, "doc", b"v1").unwrap();
    let stale = bucket.begin_cas(&mut connection, "doc").unwrap();
    // Per-key versions would start over here; the bucket's counter does not.
    bucket.delete(&mut connection, "doc").unwrap();
    bucket.set(&mut connection, "doc", b"v1").unwrap();
    let Swap::Conflict(latest) = bucket.swap(&mut connection, stale, b"lost").unwrap() else {
        panic!("a stale handle won");
    };
    assert_eq!(latest.current(), Some(&b"v1"[..]));
    assert_eq!(bucket.swap(&mut connection, latest, b"won").unwrap(), Swap::Done);
    assert_eq!(bucket.get(&mut connection, "doc").unwrap().as_deref(), Some(&b"won"[..]));
}

#[test]
fn handles_on_one_connection_do_not_interfere() {
    let redis = Redis::in_memory();
    let (mut connection, bucket) = (connect(&redis), bucket());
    let a = bucket.begin_cas(&mut connection, "a").unwrap();
    let b = bucket.begin_cas(&mut connection, "b").unwrap();
    let a_again = bucket.begin_cas(&mut connection, "a").unwrap();
    assert_eq!(a.current(), None);
    assert_eq!(bucket.swap(&mut connection, b, b"b1").unwrap(), Swap::Done);
    assert_eq!(bucket.swap(&mut connection, a, b"a1").unwrap(), Swap::Done);
    let Swap::Conflict(latest) = bucket.swap(&mut connection, a_again, b"a2").unwrap() else {
        panic!("two handles on one version both won");
    };
    assert_eq!(latest.current(), Some(&b"a1"[..]));
}

/// Compare-and-swap loops on separate connections, like requests on several nodes, count exactly.
#[test]
fn concurrent_swaps_and_increments_lose_nothing() {
    const THREADS: usize = 6;
    const ROUNDS: usize = 100;
    let redis = Redis::in_memory();
    let address = redis.address();
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let address = address.clone();
            std::thread::spawn(move || {
                let (mut connection, bucket) = (Connection::open(&address).unwrap(), bucket());
                for _ in 0..ROUNDS {
                    bucket.increment(&mut connection, "counter", 2).unwrap();
                    let mut cas = bucket.begin_cas(&mut connection, "swapped").unwrap();
                    loop {
                        let count: u64 =
                            cas.current().map_or(0, |bytes| std::str::from_utf8(bytes).unwrap().parse().unwrap());
                        match bucket.swap(&mut connection, cas, (count + 1).to_string().as_bytes()).unwrap() {
                            Swap::Done => break,
                            Swap::Conflict(latest) => cas = latest,
                        }
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let (mut connection, bucket) = (connect(&redis), bucket());
    let total = (THREADS * ROUNDS).to_string();
    assert_eq!(bucket.get(&mut connection, "swapped").unwrap(), Some(total.into_bytes()));
    assert_eq!(bucket.increment(&mut connection, "counter", 0).unwrap(), (2 * THREADS * ROUNDS) as i64);
}

#[test]
fn increment_refuses_what_is_not_an_integer() {
    let redis = Redis::in_memory();
    let (mut connection, bucket) = (connect(&redis), bucket());
    assert_eq!(bucket.increment(&mut connection, "n", -7).unwrap(), -7);
    assert_eq!(bucket.get(&mut connection, "n").unwrap().as_deref(), Some(&b"-7"[..]));
    bucket.set(&mut connection, "text", b"seven").unwrap();
    let error = bucket.increment(&mut connection, "text", 1).unwrap_err();
    assert!(error.to_string().contains("not an integer"), "{error}");
    bucket.set(&mut connection, "max", i64::MAX.to_string().as_bytes()).unwrap();
    let error = bucket.increment(&mut connection, "max", 1).unwrap_err();
    assert!(error.to_string().contains("overflow"), "{error}");
    // The connection is still good.
    assert_eq!(bucket.get(&mut connection, "text").unwrap().as_deref(), Some(&b"seven"[..]));
}

#[test]
fn list_keys_pages_through_every_key_of_the_bucket_only() {
    let redis = Redis::in_memory();
    let (mut connection, bucket) = (connect(&redis), bucket());
    let other = Bucket::open("default-2").unwrap();
    let expected: BTreeSet<String> = (0..2500).map(|i| format!("key:{i}")).collect();
    for key in &expected {
        bucket.set(&mut connection, key, b"x").unwrap();
        other.set(&mut connection, key, b"y").unwrap();
    }
    let (mut listed, mut cursor, mut pages) = (BTreeSet::new(), None, 0);
    loop {
        let (keys, next) = bucket.list(&mut connection, cursor.as_deref()).unwrap();
        listed.extend(keys);
        pages += 1;
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert!(pages > 1, "2500 keys should take more than one page");
    assert_eq!(listed, expected);
}

#[test]
fn a_refused_connection_names_the_address() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let address = server::address(&format!("redis://127.0.0.1:{port}")).unwrap();
    let Err(error) = Connection::open(&address) else { panic!("nothing listens on {address}") };
    assert!(matches!(error, Error::Connect { .. }));
    assert!(error.to_string().starts_with(&format!("cannot connect to the Redis server at 127.0.0.1:{port}: ")));
}
