//! Tests of token verification: tokens signed here with each algorithm, the RFCs' published
//! examples, and each way a token or a configuration is refused.

use super::*;
use p256::ecdsa::signature::Signer as _;
use serde_json::json;

/// A secret of the shortest length accepted, and another one.
const SECRET: &str = "a secret of thirty-two bytes ...";
const OTHER_SECRET: &str = "another secret of thirty-two b..";

/// The time the tests verify at.
const NOW: u64 = 1_700_000_000;

fn encode(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Signs the signing input of a token, its first two segments, into signature bytes.
type Sign = Box<dyn Fn(&[u8]) -> Vec<u8>>;

/// A token of `header` and `claims`, signed by `sign`.
fn token(header: &Value, claims: &Value, sign: &Sign) -> String {
    let signed = format!("{}.{}", encode(header.to_string().as_bytes()), encode(claims.to_string().as_bytes()));
    let signature = sign(signed.as_bytes());
    format!("{signed}.{}", encode(&signature))
}

/// Claims that hold at [`NOW`].
fn claims() -> Value {
    json!({"sub": "ada", "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 600})
}

/// `claims()` with `changes` merged in; a null removes a claim.
fn claims_with(changes: Value) -> Value {
    let mut claims = claims();
    json_patch::merge(&mut claims, &changes);
    claims
}

fn hs256(secret: &[u8]) -> Sign {
    let secret = secret.to_vec();
    Box::new(move |signed| {
        let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
        mac.update(signed);
        mac.finalize().into_bytes().to_vec()
    })
}

fn p256_key(seed: u8) -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap()
}

fn es256(key: &p256::ecdsa::SigningKey) -> Sign {
    let key = key.clone();
    Box::new(move |signed| {
        let signature: p256::ecdsa::Signature = key.sign(signed);
        signature.to_bytes().to_vec()
    })
}

fn p256_jwk(key: &p256::ecdsa::SigningKey, kid: &str) -> Value {
    let point = key.verifying_key().to_sec1_point(false);
    json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
        "x": encode(point.x().unwrap()), "y": encode(point.y().unwrap())})
}

/// RFC 8037 appendix A.2's Ed25519 public key, kid `e1`: a key of a type not verified here.
fn ed25519_jwk() -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "kid": "e1", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})
}

fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

/// A verifier with `secret` and the keys of `set`, and no issuer or audience.
fn verifier(secret: Option<&str>, set: &[Value]) -> Verifier {
    let set = (!set.is_empty()).then(|| jwks(set));
    Verifier::from_config(secret, set.as_deref(), None, None).unwrap().unwrap()
}

/// A verifier with [`SECRET`], P-256 key 1 (`p1`), and no kid on a second P-256 key, 2.
fn everything() -> Verifier {
    let mut unnamed = p256_jwk(&p256_key(2), "");
    unnamed.as_object_mut().unwrap().remove("kid");
    verifier(Some(SECRET), &[p256_jwk(&p256_key(1), "p1"), unnamed])
}

/// Checks that `verifier` gives `expected` for `token` at [`NOW`], and that a refusal's text
/// quotes neither the token nor a secret.
#[track_caller]
fn check(verifier: &Verifier, token: &str, expected: Result<(), JwtError>) {
    check_at(verifier, token, NOW, expected);
}

#[track_caller]
fn check_at(verifier: &Verifier, token: &str, now_secs: u64, expected: Result<(), JwtError>) {
    let outcome = verifier.verify(token, now_secs);
    assert_eq!(outcome.as_ref().map(|_| ()), expected.as_ref().copied(), "{token}");
    if let Err(error) = outcome {
        let text = error.to_string();
        for segment in token.split('.').filter(|segment| segment.len() > 4) {
            assert!(!text.contains(segment), "{text:?} quotes the token");
        }
        assert!(!text.contains(SECRET) && !text.contains(OTHER_SECRET), "{text:?} quotes a secret");
    }
}

#[test]
fn good_tokens_give_their_claims() {
    let verifier = everything();
    let hs = token(&json!({"alg": "HS256", "typ": "JWT"}), &claims(), &hs256(SECRET.as_bytes()));
    assert_eq!(verifier.verify(&hs, NOW), Ok(claims().as_object().unwrap().clone()));
    let es = token(&json!({"alg": "ES256", "kid": "p1"}), &claims(), &es256(&p256_key(1)));
    assert_eq!(verifier.verify(&es, NOW).unwrap()["sub"], "ada");
}

#[test]
fn without_a_kid_every_key_of_the_kind_is_tried() {
    let verifier = everything();
    for seed in [1, 2] {
        check(&verifier, &token(&json!({"alg": "ES256"}), &claims(), &es256(&p256_key(seed))), Ok(()));
    }
    let stranger = token(&json!({"alg": "ES256"}), &claims(), &es256(&p256_key(3)));
    check(&verifier, &stranger, Err(JwtError::BadSignature));
}

#[test]
fn wrong_signatures_are_refused() {
    let verifier = everything();
    let cases = [
        (json!({"alg": "HS256"}), hs256(OTHER_SECRET.as_bytes())),
        (json!({"alg": "ES256", "kid": "p1"}), es256(&p256_key(2))),
        (json!({"alg": "ES256"}), es256(&p256_key(3))),
        (json!({"alg": "HS256"}), Box::new(|_: &[u8]| Vec::new()) as Sign),
        (json!({"alg": "ES256", "kid": "p1"}), Box::new(|_: &[u8]| vec![0u8; 64]) as Sign),
        (json!({"alg": "ES256", "kid": "p1"}), Box::new(|_: &[u8]| vec![0xffu8; 64]) as Sign),
        (json!({"alg": "ES256", "kid": "p1"}), Box::new(|_: &[u8]| vec![1u8; 63]) as Sign),
    ];
    for (header, sign) in cases {
        check(&verifier, &token(&header, &claims(), &sign), Err(JwtError::BadSignature));
    }
    // An ES256 signature in DER, as some signers give it, is not the JWS form.
    let der = {
        let key = p256_key(1);
        Box::new(move |signed: &[u8]| {
            let signature: p256::ecdsa::Signature = key.sign(signed);
            signature.to_der().as_bytes().to_vec()
        }) as Sign
    };
    check(&verifier, &token(&json!({"alg": "ES256", "kid": "p1"}), &claims(), &der), Err(JwtError::BadSignature));
}

#[test]
fn a_tampered_payload_is_refused() {
    let verifier = everything();
    let admin = encode(claims_with(json!({"sub": "root"})).to_string().as_bytes());
    let signers = [
        (json!({"alg": "HS256"}), hs256(SECRET.as_bytes())),
        (json!({"alg": "ES256", "kid": "p1"}), es256(&p256_key(1))),
        (json!({"alg": "ES256"}), es256(&p256_key(2))),
    ];
    for (header, sign) in signers {
        let good = token(&header, &claims(), &sign);
        let segments: Vec<&str> = good.split('.').collect();
        let tampered = format!("{}.{admin}.{}", segments[0], segments[2]);
        check(&verifier, &tampered, Err(JwtError::BadSignature));
        // A header changed after signing is refused too.
        let mut changed = header.clone();
        changed["typ"] = json!("JWT");
        let changed = encode(changed.to_string().as_bytes());
        check(&verifier, &format!("{changed}.{}.{}", segments[1], segments[2]), Err(JwtError::BadSignature));
    }
}

#[test]
fn alg_none_and_unknown_algorithms_are_refused() {
    let verifier = everything();
    let unsigned = format!("{}.{}.", encode(br#"{"alg":"none"}"#), encode(claims().to_string().as_bytes()));
    check(&verifier, &unsigned, Err(JwtError::UnsupportedAlgorithm("none".into())));
    for alg in ["None", "NONE", "hs256", "HS384", "HS512", "RS256", "PS256", "ES384", "ES256K", "Ed448"] {
        let token = token(&json!({"alg": alg}), &claims(), &hs256(SECRET.as_bytes()));
        check(&verifier, &token, Err(JwtError::UnsupportedAlgorithm(alg.into())));
    }
    // Ed25519, by RFC 8037's name and RFC 9864's, is not verified here; a P-256 key never checks
    // a token that names it, even one it signed, under its own kid.
    for alg in ["EdDSA", "Ed25519"] {
        let token = token(&json!({"alg": alg, "kid": "p1"}), &claims(), &es256(&p256_key(1)));
        check(&verifier, &token, Err(JwtError::UnsupportedAlgorithm(alg.into())));
    }
    let long = "X".repeat(1000);
    let token = token(&json!({"alg": long}), &claims(), &hs256(SECRET.as_bytes()));
    check(&verifier, &token, Err(JwtError::UnsupportedAlgorithm("X".repeat(32))));
}

#[test]
fn an_algorithm_is_accepted_only_with_its_own_kind_of_key() {
    let key = p256_key(1);
    let jwk = p256_jwk(&key, "p1");
    let point = key.verifying_key().to_sec1_point(false);
    // What an attacker may know of the public key, used as an HMAC secret.
    let public_texts: Vec<Vec<u8>> = vec![
        jwks(std::slice::from_ref(&jwk)).into_bytes(),
        jwk.to_string().into_bytes(),
        point.as_bytes().to_vec(),
        point.x().unwrap().to_vec(),
    ];
    let only_keys = verifier(None, std::slice::from_ref(&jwk));
    let both = verifier(Some(SECRET), std::slice::from_ref(&jwk));
    for secret in &public_texts {
        let forged = token(&json!({"alg": "HS256", "kid": "p1"}), &claims(), &hs256(secret));
        check(&only_keys, &forged, Err(JwtError::UnsupportedAlgorithm("HS256".into())));
        check(&both, &forged, Err(JwtError::BadSignature));
    }
    let only_secret = verifier(Some(SECRET), &[]);
    let es = token(&json!({"alg": "ES256", "kid": "p1"}), &claims(), &es256(&key));
    check(&only_secret, &es, Err(JwtError::UnsupportedAlgorithm("ES256".into())));
}

#[test]
fn an_unknown_kid_is_refused() {
    let verifier = everything();
    let token = token(&json!({"alg": "ES256", "kid": "p9"}), &claims(), &es256(&p256_key(1)));
    check(&verifier, &token, Err(JwtError::UnknownKey));
    // HS256 has one secret, so its kid does not matter.
    let hs = self::token(&json!({"alg": "HS256", "kid": "any"}), &claims(), &hs256(SECRET.as_bytes()));
    check(&verifier, &hs, Ok(()));
}

#[test]
fn exp_and_nbf_hold_within_the_leeway() {
    let verifier = verifier(Some(SECRET), &[]);
    let signed = |changes: Value| token(&json!({"alg": "HS256"}), &claims_with(changes), &hs256(SECRET.as_bytes()));
    let leeway = LEEWAY_SECS_DEFAULT;
    check(&verifier, &signed(json!({"exp": NOW - leeway - 1})), Err(JwtError::Expired));
    check(&verifier, &signed(json!({"exp": NOW - leeway})), Err(JwtError::Expired));
    check(&verifier, &signed(json!({"exp": NOW - leeway + 1})), Ok(()));
    check(&verifier, &signed(json!({"nbf": NOW + leeway + 1})), Err(JwtError::NotYetValid));
    check(&verifier, &signed(json!({"nbf": NOW + leeway})), Ok(()));
    let strict = verifier.clone().with_leeway(0);
    check(&strict, &signed(json!({"exp": NOW})), Err(JwtError::Expired));
    check(&strict, &signed(json!({"exp": NOW + 1})), Ok(()));
    check(&strict, &signed(json!({"nbf": NOW + 1})), Err(JwtError::NotYetValid));
    check(&strict, &signed(json!({"nbf": NOW})), Ok(()));
    // Both are optional, may have fractions, and may be far off; they must be numbers.
    check(&strict, &signed(json!({"exp": null, "nbf": null})), Ok(()));
    check(&strict, &signed(json!({"exp": NOW as f64 + 0.5})), Ok(()));
    check(&strict, &signed(json!({"exp": NOW as f64 - 0.5})), Err(JwtError::Expired));
    check(&strict, &signed(json!({"exp": u64::MAX, "nbf": -1})), Ok(()));
    check(&strict, &signed(json!({"exp": -1})), Err(JwtError::Expired));
    check(&strict, &signed(json!({"exp": "2100-01-01"})), Err(JwtError::Malformed("exp is not a number")));
    check(&strict, &signed(json!({"nbf": true})), Err(JwtError::Malformed("nbf is not a number")));
    // Numbers as issuers may write them, which json! would normalize.
    let written = |claims: &str| {
        let signed = format!("{}.{}", encode(br#"{"alg":"HS256"}"#), encode(claims.as_bytes()));
        format!("{signed}.{}", encode(&hs256(SECRET.as_bytes())(signed.as_bytes())))
    };
    check(&strict, &written(r#"{"exp": 1e400, "nbf": -1e400}"#), Ok(()));
    check(&strict, &written(r#"{"exp": 1.7000000001E9}"#), Ok(()));
    check(&strict, &written(r#"{"exp": 1.7e9}"#), Err(JwtError::Expired));
    check(&strict, &written(r#"{"exp": 1700000000.000000000000000000001}"#), Ok(()));
    check(&strict, &written(r#"{"nbf": 1700000000.000000000000000000001}"#), Err(JwtError::NotYetValid));
    check(&strict, &written(r#"{"exp": 170000000000000000000000e-14}"#), Err(JwtError::Expired));
}

#[test]
fn numeric_dates_round_up_exactly() {
    let cases = [
        ("0", 0),
        ("-0", 0),
        ("7", 7),
        ("-7", -7),
        ("0.5", 1),
        ("-0.5", 0),
        ("-1.5", -1),
        ("1.000", 1),
        ("1.0001", 2),
        ("12e1", 120),
        ("12E+1", 120),
        ("12e-1", 2),
        ("120e-1", 12),
        ("1e-400", 1),
        ("0e400", 0),
        ("1e400", i64::MAX),
        ("-1e400", -i64::MAX),
        ("1e99999999999999999999", i64::MAX),
        ("9223372036854775807", i64::MAX),
        ("9223372036854775808", i64::MAX),
        ("1300819380", 1300819380),
    ];
    for (text, expected) in cases {
        assert_eq!(round_up(text), expected, "{text}");
    }
}

proptest::proptest! {
    #[test]
    fn numeric_dates_round_up_like_exact_arithmetic(
        negative: bool, whole in 0_u64..10_000_000_000, fraction in "[0-9]{0,6}", exponent in -12_i32..12,
    ) {
        let mut text = format!("{}{whole}", if negative { "-" } else { "" });
        if !fraction.is_empty() {
            text = format!("{text}.{fraction}");
        }
        text = format!("{text}e{exponent}");
        // The value is digits / 10^scale; rounded up with integer division.
        let digits = i128::from(whole) * 10_i128.pow(fraction.len() as u32) + fraction.parse::<i128>().unwrap_or(0);
        let digits = if negative { -digits } else { digits };
        let scale = fraction.len() as i32 - exponent;
        let expected = if scale <= 0 {
            digits * 10_i128.pow((-scale) as u32)
        } else {
            let divisor = 10_i128.pow(scale as u32);
            digits.div_euclid(divisor) + i128::from(digits.rem_euclid(divisor) != 0)
        };
        let expected = expected.clamp(-i128::from(i64::MAX), i128::from(i64::MAX)) as i64;
        proptest::prop_assert_eq!(round_up(&text), expected, "{}", text);
    }
}

#[test]
fn issuer_and_audience_must_match_when_configured() {
    let issuer = "https://issuer.example";
    let audience = "jsonstore";
    let verifier = Verifier::from_config(Some(SECRET), None, Some(issuer), Some(audience)).unwrap().unwrap();
    let signed = |changes: Value| token(&json!({"alg": "HS256"}), &claims_with(changes), &hs256(SECRET.as_bytes()));
    check(&verifier, &signed(json!({"iss": issuer, "aud": audience})), Ok(()));
    check(&verifier, &signed(json!({"iss": issuer, "aud": ["other", audience]})), Ok(()));
    check(&verifier, &signed(json!({"iss": "https://elsewhere.example", "aud": audience})), Err(JwtError::WrongIssuer));
    check(&verifier, &signed(json!({"aud": audience})), Err(JwtError::WrongIssuer));
    check(&verifier, &signed(json!({"iss": [issuer], "aud": audience})), Err(JwtError::WrongIssuer));
    check(&verifier, &signed(json!({"iss": issuer, "aud": "other"})), Err(JwtError::WrongAudience));
    check(&verifier, &signed(json!({"iss": issuer, "aud": ["other", 7]})), Err(JwtError::WrongAudience));
    check(&verifier, &signed(json!({"iss": issuer, "aud": []})), Err(JwtError::WrongAudience));
    check(&verifier, &signed(json!({"iss": issuer})), Err(JwtError::WrongAudience));
    check(&verifier, &signed(json!({"iss": issuer, "aud": "JSONSTORE"})), Err(JwtError::WrongAudience));
    // Unconfigured, they are not checked.
    let open = self::verifier(Some(SECRET), &[]);
    check(&open, &signed(json!({"iss": "anyone", "aud": ["anything"]})), Ok(()));
}

#[test]
fn malformed_tokens_are_refused_before_any_signature_check() {
    let verifier = everything();
    let sign = hs256(SECRET.as_bytes());
    let good = token(&json!({"alg": "HS256"}), &claims(), &sign);
    let segments: Vec<&str> = good.split('.').collect();
    let (header, payload, signature) = (segments[0], segments[1], segments[2]);
    // Segments signed as given, so that only their content is wrong.
    let signed = |header: &str, payload: &str| {
        format!("{header}.{payload}.{}", encode(&sign(format!("{header}.{payload}").as_bytes())))
    };
    let malformed = |why| Err(JwtError::Malformed(why));
    let segments_wrong = malformed("the token is not three segments joined by dots");
    check(&verifier, "", segments_wrong.clone());
    check(&verifier, &format!("{header}.{payload}"), segments_wrong.clone());
    check(&verifier, &format!("{good}.{signature}"), segments_wrong.clone());
    check(&verifier, &format!("{header}.{payload}.{signature}.."), segments_wrong);
    check(&verifier, "..", malformed("the header is not JSON"));
    check(&verifier, &format!("{header}=.{payload}.{signature}"), malformed("the header is not unpadded base64url"));
    check(&verifier, &format!("e*J.{payload}.{signature}"), malformed("the header is not unpadded base64url"));
    check(&verifier, &format!("{header}.{payload}.{signature}="), malformed("the signature is not unpadded base64url"));
    check(
        &verifier,
        &format!("{header}.{payload}.{}+", &signature[1..]),
        malformed("the signature is not unpadded base64url"),
    );
    let encoded = |text: &str| encode(text.as_bytes());
    check(&verifier, &signed(&encoded("{\"alg\":"), payload), malformed("the header is not JSON"));
    check(&verifier, &signed(&encoded("[\"HS256\"]"), payload), malformed("the header is not a JSON object"));
    check(&verifier, &signed(&encoded("{}"), payload), malformed("the header has no alg string"));
    check(&verifier, &signed(&encoded("{\"alg\":256}"), payload), malformed("the header has no alg string"));
    check(
        &verifier,
        &signed(&encoded(r#"{"alg":"HS256","kid":1}"#), payload),
        malformed("the header's kid is not a string"),
    );
    let crit = encoded(r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#);
    check(&verifier, &signed(&crit, payload), malformed("the header names critical extensions"));
    check(&verifier, &signed(header, "e*J"), malformed("the payload is not unpadded base64url"));
    check(&verifier, &signed(header, &encoded("{\"sub\"")), malformed("the payload is not JSON"));
    check(&verifier, &signed(header, &encoded("[1, 2]")), malformed("the payload is not a JSON object"));
    check(&verifier, &signed(header, &encoded("\"ada\"")), malformed("the payload is not a JSON object"));
    // A well-formed but unsigned payload is checked for its signature first.
    check(&verifier, &format!("{header}.e*J.{signature}"), Err(JwtError::BadSignature));
}

#[test]
fn a_huge_token_is_refused_before_decoding() {
    let verifier = verifier(Some(SECRET), &[]);
    let sign = hs256(SECRET.as_bytes());
    let padded = |bytes: usize| claims_with(json!({ "pad": "p".repeat(bytes) }));
    let near = token(&json!({"alg": "HS256"}), &padded(6000), &sign);
    assert!((TOKEN_BYTES_MAX - 100..=TOKEN_BYTES_MAX).contains(&near.len()), "{}", near.len());
    check(&verifier, &near, Ok(()));
    let over = token(&json!({"alg": "HS256"}), &padded(6100), &sign);
    assert!(over.len() > TOKEN_BYTES_MAX);
    check(&verifier, &over, Err(JwtError::Malformed("the token is longer than 8 KiB")));
    check(&verifier, &".".repeat(TOKEN_BYTES_MAX + 1), Err(JwtError::Malformed("the token is longer than 8 KiB")));
    check(
        &verifier,
        &"a".repeat(TOKEN_BYTES_MAX),
        Err(JwtError::Malformed("the token is not three segments joined by dots")),
    );
}

/// RFC 7515 appendix A.1: HS256 with a 64-byte binary key (so not from a text variable).
#[test]
fn the_rfc_7515_hs256_example_verifies() {
    let secret = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
    let verifier = Verifier {
        secret: Some(Base64UrlUnpadded::decode_vec(secret).unwrap()),
        keys: Vec::new(),
        issuer: Some("joe".into()),
        audience: None,
        leeway_secs: 0,
    };
    let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9\
        .eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ\
        .dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let claims = verifier.verify(token, 1_300_819_379).unwrap();
    assert_eq!(Value::Object(claims), json!({"iss": "joe", "exp": 1300819380, "http://example.com/is_root": true}));
    check_at(&verifier, token, 1_300_819_380, Err(JwtError::Expired));
}

/// RFC 7515 appendix A.3: ES256, over the same claims as A.1.
#[test]
fn the_rfc_7515_es256_example_verifies() {
    let set = r#"{"keys": [{"kty": "EC", "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
    let verifier = Verifier::from_config(None, Some(set), Some("joe"), None).unwrap().unwrap();
    let token = "eyJhbGciOiJFUzI1NiJ9\
        .eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ\
        .DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
    assert_eq!(verifier.verify(token, 1_300_819_000).unwrap()["iss"], "joe");
    check_at(&verifier, &token.replace("DtEh", "DtEi"), 1_300_819_000, Err(JwtError::BadSignature));
}

#[test]
fn nothing_configured_is_no_verifier() {
    assert_eq!(Verifier::from_config(None, None, None, None), Ok(None));
    assert_eq!(Verifier::from_config(Some(""), Some(" \n"), Some("joe"), Some("app")), Ok(None));
    let verifier = Verifier::from_config(Some(SECRET), Some(""), Some(""), Some("")).unwrap().unwrap();
    assert_eq!(verifier, self::verifier(Some(SECRET), &[]));
}

#[test]
fn a_short_secret_is_refused_without_quoting_it() {
    // The secret of jwt.io's example token.
    let error = Verifier::from_config(Some("your-256-bit-secret"), None, None, None).unwrap_err();
    assert_eq!(error.to_string(), "jwt_secret: is 19 bytes long, but an HS256 secret needs at least 32");
    assert!(Verifier::from_config(Some(&SECRET[1..]), None, None, None).is_err());
    assert!(Verifier::from_config(Some(SECRET), None, None, None).is_ok());
}

#[test]
fn the_debug_form_hides_the_secret() {
    let text = format!("{:?}", everything());
    assert!(!text.contains(SECRET), "{text}");
    assert!(text.contains("(hidden)") && text.contains("p1"), "{text}");
}

/// Checks that JWK set `set` is refused with `expected`.
#[track_caller]
fn check_set(set: &str, expected: &str) {
    let error = Verifier::from_config(None, Some(set), None, None).unwrap_err();
    assert_eq!(error.to_string(), expected);
}

#[test]
fn a_bad_key_set_is_refused_with_the_place_and_reason() {
    let good = p256_jwk(&p256_key(1), "p1");
    let with = |changes: Value| {
        let mut key = good.clone();
        json_patch::merge(&mut key, &changes);
        jwks(&[p256_jwk(&p256_key(2), "p2"), key])
    };
    check_set("{\"keys\": [", "jwt_jwks: is not JSON (EOF while parsing a list at line 1 column 10)");
    let not_a_set = r#"jwt_jwks: is not a JWK set: an object whose "keys" is an array"#;
    check_set(&good.to_string(), not_a_set);
    check_set("[]", not_a_set);
    check_set(&with(json!({"kty": null})), "jwt_jwks: /keys/1 has no kty");
    check_set(&jwks(&[json!("key")]), "jwt_jwks: /keys/0 is not a JSON object");
    check_set(&with(json!({"kid": 7})), "jwt_jwks: /keys/1 has a kid that is not a string");
    check_set(&with(json!({"d": "private"})), "jwt_jwks: /keys/1 has a private part (d): give only public keys");
    let x_wrong = "jwt_jwks: /keys/1 is an EC P-256 key whose x is not 32 bytes of base64url";
    check_set(&with(json!({"x": null})), x_wrong);
    check_set(&with(json!({"x": encode(&[1; 31])})), x_wrong);
    check_set(&with(json!({"x": encode(&[1; 33])})), x_wrong);
    check_set(&with(json!({"x": format!("{}=", encode(&[1; 32]))})), x_wrong);
    check_set(
        &with(json!({"y": encode(&[1; 32])})),
        "jwt_jwks: /keys/1 is an EC P-256 key whose x and y are not a point of the curve",
    );
    check_set(&with(json!({"kid": "p2"})), "jwt_jwks: /keys/1 has the kid of an earlier key");
    let none = "jwt_jwks: has no EC P-256 (ES256) signature key among its";
    check_set(r#"{"keys": []}"#, &format!("{none} 0 keys"));
    check_set(&jwks(&[json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"})]), &format!("{none} 1 keys"));
    check_set(&jwks(&[ed25519_jwk()]), &format!("{none} 1 keys"));
}

#[test]
fn keys_of_other_types_and_uses_are_skipped() {
    let mut skipped = vec![
        json!({"kty": "RSA", "kid": "r1", "alg": "RS256", "n": "AQAB", "e": "AQAB"}),
        ed25519_jwk(),
        json!({"kty": "EC", "crv": "P-384", "x": "AQAB", "y": "AQAB"}),
        json!({"kty": "OKP", "crv": "X25519", "x": "AQAB"}),
        json!({"kty": "oct", "k": encode(SECRET.as_bytes())}),
    ];
    for changes in [json!({"use": "enc", "kid": "enc"}), json!({"alg": "ECDH-ES", "kid": "ecdh"})] {
        let mut key = p256_jwk(&p256_key(9), "");
        json_patch::merge(&mut key, &changes);
        skipped.push(key);
    }
    let mut set = skipped.clone();
    set.push(p256_jwk(&p256_key(1), "p1"));
    let verifier = verifier(None, &set);
    assert_eq!(verifier.keys.len(), 1);
    check(&verifier, &token(&json!({"alg": "ES256", "kid": "p1"}), &claims(), &es256(&p256_key(1))), Ok(()));
    for kid in ["r1", "e1", "enc", "ecdh"] {
        let token = token(&json!({"alg": "ES256", "kid": kid}), &claims(), &es256(&p256_key(9)));
        check(&verifier, &token, Err(JwtError::UnknownKey));
    }
    let error = Verifier::from_config(None, Some(&jwks(&skipped)), None, None).unwrap_err();
    assert!(error.to_string().ends_with("among its 7 keys"), "{error}");
}

#[test]
fn every_refusal_has_a_text() {
    let errors = [
        JwtError::Malformed("the header is not JSON"),
        JwtError::UnsupportedAlgorithm("none".into()),
        JwtError::UnknownKey,
        JwtError::BadSignature,
        JwtError::Expired,
        JwtError::NotYetValid,
        JwtError::WrongIssuer,
        JwtError::WrongAudience,
    ];
    let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(texts[0], "malformed token: the header is not JSON");
    assert_eq!(texts[1], r#"token algorithm "none" is not accepted"#);
    for (index, text) in texts.iter().enumerate() {
        assert!(!texts[..index].contains(text), "{text} twice");
    }
}
