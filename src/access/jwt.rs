//! JSON Web Token verification: a compact token in, its claims out, or a typed reason why not.
//!
//! A [`Verifier`] is built once from the configuration: an HS256 secret, a JWK set of ES256
//! (P-256) public keys, or both, and the issuer and audience a token must name, if any.
//! [`Verifier::verify`] checks a token against them and against the time the caller passes in.
//!
//! Two decisions shaped it. It is pure: no host interface, no clock and no fetch of a provider's keys, so
//! it is tested natively and trusts exactly the keys the configuration lists. And the token does
//! not choose how it is checked: each algorithm has its own kind of key and is accepted only
//! when that kind is configured, so `none` never passes and a public key is never used as an
//! HMAC secret. The crates are small RustCrypto ones without precomputed tables, as every byte
//! ships in the component: the two algorithms add about 58 KB to it, and ES256 signatures take
//! longer to check, which one check per request can afford. For the same bytes EdDSA is left
//! out: it added about 32 KB, and identity providers sign with it least.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, KeyInit, Mac};
use p256::ecdsa::signature::Verifier as _;
use serde_json::{Map, Value};
use sha2::Sha256;

/// Claims of a verified token: its payload.
pub type Claims = Map<String, Value>;

/// The longest token [`Verifier::verify`] reads; a longer one is refused before decoding.
pub const TOKEN_BYTES_MAX: usize = 8 * 1024;

/// The shortest HS256 secret accepted: as long as the hash, as RFC 7518 section 3.2 requires.
pub const SECRET_BYTES_MIN: usize = 32;

/// How far `exp` and `nbf` may be off the caller's clock unless [`Verifier::with_leeway`] says
/// otherwise.
pub const LEEWAY_SECS_DEFAULT: u64 = 60;

/// The configured keys, issuer and audience that tokens are verified against.
///
/// Its `Debug` shows which keys it holds, never the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    /// The HS256 secret, if one is configured.
    secret: Option<Vec<u8>>,
    /// The public keys of the JWK set, in its order.
    keys: Vec<Key>,
    /// The `iss` a token must have, if configured.
    issuer: Option<String>,
    /// The value a token's `aud` must be or contain, if configured.
    audience: Option<String>,
    /// How far `exp` and `nbf` may be off the clock.
    leeway_secs: u64,
}

/// Why a token was refused. The texts never quote the token, beyond the name of an algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    /// It is not a compact JWS carrying a JSON claims set; the text says which part is wrong.
    Malformed(&'static str),
    /// Its `alg` is `none`, unknown, or one for which no key is configured.
    UnsupportedAlgorithm(String),
    /// Its `kid` names no configured key of the kind its `alg` needs.
    UnknownKey,
    /// Its signature does not verify with the configured key or keys.
    BadSignature,
    /// Its `exp` has passed, by more than the leeway.
    Expired,
    /// Its `nbf` is still ahead, by more than the leeway.
    NotYetValid,
    /// Its `iss` is missing or not the configured issuer.
    WrongIssuer,
    /// Its `aud` is missing or does not name the configured audience.
    WrongAudience,
}

/// A configuration variable that cannot be used: the text says which one and why, and never
/// quotes the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(String);

impl Verifier {
    /// From the configuration variables; Ok(None) when neither a secret nor keys are configured.
    ///
    /// `secret` (`jwt_secret`) is used as its UTF-8 bytes and must have at least
    /// [`SECRET_BYTES_MIN`]. `jwks` (`jwt_jwks`) is a JWK set; its EC P-256 public keys are
    /// used, and keys of other types or meant for other uses (such as RSA or OKP Ed25519 keys,
    /// or `"use": "enc"`) are skipped, but the set must have at least one usable key. `issuer`
    /// (`jwt_issuer`) and `audience` (`jwt_audience`), when given, must appear in every token.
    /// An empty variable counts as not configured.
    pub fn from_config(
        secret: Option<&str>,
        jwks: Option<&str>,
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Result<Option<Verifier>, ConfigError> {
        let secret = match given(secret) {
            None => None,
            Some(text) if text.len() < SECRET_BYTES_MIN => {
                return Err(ConfigError(format!(
                    "jwt_secret: is {} bytes long, but an HS256 secret needs at least {SECRET_BYTES_MIN}",
                    text.len()
                )));
            }
            Some(text) => Some(text.as_bytes().to_vec()),
        };
        let keys = match given(jwks) {
            None => Vec::new(),
            Some(text) => parse_key_set(text)?,
        };
        if secret.is_none() && keys.is_empty() {
            return Ok(None);
        }
        Ok(Some(Verifier {
            secret,
            keys,
            issuer: given(issuer).map(str::to_owned),
            audience: given(audience).map(str::to_owned),
            leeway_secs: LEEWAY_SECS_DEFAULT,
        }))
    }

    /// The same verifier with `leeway_secs` of leeway for `exp` and `nbf`.
    pub fn with_leeway(self, leeway_secs: u64) -> Verifier {
        Verifier { leeway_secs, ..self }
    }

    /// The claims of `token` when its signature verifies and its claims hold at `now_secs`
    /// (seconds since the Unix epoch).
    ///
    /// The header, the signature, `exp`, `nbf`, `iss` and `aud` are checked in that order; the
    /// payload is decoded only once the signature verifies.
    pub fn verify(&self, token: &str, now_secs: u64) -> Result<Claims, JwtError> {
        if token.len() > TOKEN_BYTES_MAX {
            return Err(JwtError::Malformed("the token is longer than 8 KiB"));
        }
        let mut segments = token.split('.');
        let (Some(header_text), Some(payload_text), Some(signature_text), None) =
            (segments.next(), segments.next(), segments.next(), segments.next())
        else {
            return Err(JwtError::Malformed("the token is not three segments joined by dots"));
        };
        let header = decode_object(header_text, &HEADER)?;
        let algorithm = self.algorithm(&header)?;
        let key_id = match header.get("kid") {
            None => None,
            Some(Value::String(id)) => Some(id.as_str()),
            Some(_) => return Err(JwtError::Malformed("the header's kid is not a string")),
        };
        let signature = Base64UrlUnpadded::decode_vec(signature_text)
            .map_err(|_| JwtError::Malformed("the signature is not unpadded base64url"))?;
        let signed = &token.as_bytes()[..header_text.len() + 1 + payload_text.len()];
        self.check_signature(algorithm, key_id, signed, &signature)?;
        let claims = decode_object(payload_text, &PAYLOAD)?;
        self.check_claims(&claims, now_secs)?;
        Ok(claims)
    }

    /// The algorithm the header names, when it is one this verifier has a key for.
    fn algorithm(&self, header: &Map<String, Value>) -> Result<Algorithm, JwtError> {
        let Some(Value::String(name)) = header.get("alg") else {
            return Err(JwtError::Malformed("the header has no alg string"));
        };
        // Extensions that must be understood (RFC 7515 section 4.1.11) are ones this module
        // does not know, such as the unencoded payload of RFC 7797.
        if header.contains_key("crit") {
            return Err(JwtError::Malformed("the header names critical extensions"));
        }
        let algorithm = match name.as_str() {
            "HS256" => Algorithm::Hs256,
            "ES256" => Algorithm::Es256,
            _ => return Err(unsupported(name)),
        };
        let configured = match algorithm {
            Algorithm::Hs256 => self.secret.is_some(),
            Algorithm::Es256 => self.keys.iter().any(|key| key.public.algorithm() == algorithm),
        };
        if configured { Ok(algorithm) } else { Err(unsupported(name)) }
    }

    /// Checks `signature` over `signed` with the secret, the key named `key_id`, or else every
    /// key of the algorithm's kind.
    fn check_signature(
        &self,
        algorithm: Algorithm,
        key_id: Option<&str>,
        signed: &[u8],
        signature: &[u8],
    ) -> Result<(), JwtError> {
        if algorithm == Algorithm::Hs256 {
            let secret = self.secret.as_deref().ok_or(JwtError::BadSignature)?;
            let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| JwtError::BadSignature)?;
            mac.update(signed);
            return mac.verify_slice(signature).map_err(|_| JwtError::BadSignature);
        }
        let mut fitting = self.keys.iter().filter(|key| key.public.algorithm() == algorithm);
        match key_id {
            Some(id) => {
                let key = fitting.find(|key| key.id.as_deref() == Some(id)).ok_or(JwtError::UnknownKey)?;
                key.public.verify(signed, signature)
            }
            None if fitting.any(|key| key.public.verify(signed, signature).is_ok()) => Ok(()),
            None => Err(JwtError::BadSignature),
        }
    }

    /// Checks the time claims and the configured issuer and audience.
    fn check_claims(&self, claims: &Claims, now_secs: u64) -> Result<(), JwtError> {
        let (now, leeway) = (i128::from(now_secs), i128::from(self.leeway_secs));
        if let Some(expires) = numeric_date(claims, "exp", "exp is not a number")?
            && now - leeway >= expires
        {
            return Err(JwtError::Expired);
        }
        if let Some(not_before) = numeric_date(claims, "nbf", "nbf is not a number")?
            && now + leeway < not_before
        {
            return Err(JwtError::NotYetValid);
        }
        if let Some(issuer) = &self.issuer
            && claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str())
        {
            return Err(JwtError::WrongIssuer);
        }
        if let Some(audience) = &self.audience {
            let named = match claims.get("aud") {
                Some(Value::String(one)) => one == audience,
                Some(Value::Array(several)) => several.iter().any(|one| one.as_str() == Some(audience.as_str())),
                _ => false,
            };
            if !named {
                return Err(JwtError::WrongAudience);
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Verifier")
            .field("secret", &self.secret.as_ref().map(|_| "(hidden)"))
            .field("keys", &self.keys)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway_secs", &self.leeway_secs)
            .finish()
    }
}

impl fmt::Display for JwtError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwtError::Malformed(why) => write!(formatter, "malformed token: {why}"),
            JwtError::UnsupportedAlgorithm(name) => write!(formatter, "token algorithm {name:?} is not accepted"),
            JwtError::UnknownKey => formatter.write_str("the token's kid names no configured key for its algorithm"),
            JwtError::BadSignature => formatter.write_str("the token's signature does not verify"),
            JwtError::Expired => formatter.write_str("the token has expired"),
            JwtError::NotYetValid => formatter.write_str("the token is not valid yet"),
            JwtError::WrongIssuer => formatter.write_str("the token is not from the configured issuer"),
            JwtError::WrongAudience => formatter.write_str("the token is not for the configured audience"),
        }
    }
}

impl std::error::Error for JwtError {}

impl fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// A signature algorithm this module verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    /// HMAC with SHA-256, keyed by the configured secret.
    Hs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
}

/// A public key of the JWK set.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    /// Its `kid`, if it has one.
    id: Option<String>,
    /// The key itself.
    public: PublicKey,
}

/// A public key, of a kind that fixes the one algorithm it verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PublicKey {
    /// An EC P-256 key, for ES256.
    P256(p256::ecdsa::VerifyingKey),
}

impl PublicKey {
    /// The algorithm this key verifies.
    fn algorithm(&self) -> Algorithm {
        match self {
            PublicKey::P256(_) => Algorithm::Es256,
        }
    }

    /// Checks `signature` over `signed`.
    fn verify(&self, signed: &[u8], signature: &[u8]) -> Result<(), JwtError> {
        let verified = match self {
            // JWS signatures are r and s, 32 bytes each (RFC 7518 section 3.4), not DER.
            PublicKey::P256(key) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|signature| key.verify(signed, &signature).is_ok()),
        };
        if verified { Ok(()) } else { Err(JwtError::BadSignature) }
    }
}

/// What to say when a segment is not base64url, not JSON, or not an object.
struct Segment {
    not_base64: &'static str,
    not_json: &'static str,
    not_object: &'static str,
}

const HEADER: Segment = Segment {
    not_base64: "the header is not unpadded base64url",
    not_json: "the header is not JSON",
    not_object: "the header is not a JSON object",
};

const PAYLOAD: Segment = Segment {
    not_base64: "the payload is not unpadded base64url",
    not_json: "the payload is not JSON",
    not_object: "the payload is not a JSON object",
};

/// The JSON object that `text`, a base64url segment, encodes.
fn decode_object(text: &str, segment: &Segment) -> Result<Map<String, Value>, JwtError> {
    let bytes = Base64UrlUnpadded::decode_vec(text).map_err(|_| JwtError::Malformed(segment.not_base64))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(JwtError::Malformed(segment.not_object)),
        Err(_) => Err(JwtError::Malformed(segment.not_json)),
    }
}

/// The refusal of algorithm `name`, shortened so that an odd header cannot flood a log.
fn unsupported(name: &str) -> JwtError {
    JwtError::UnsupportedAlgorithm(name[..name.floor_char_boundary(32)].to_owned())
}

/// Claim `name`, seconds since the epoch, rounded up to a whole second, if the token has it.
///
/// A NumericDate may have a fraction (RFC 7519 section 2). Against a clock of whole seconds,
/// rounding up keeps both checks exact: `now >= exp` just when `now >= ceil(exp)`, and
/// `now < nbf` just when `now < ceil(nbf)`.
fn numeric_date(claims: &Claims, name: &str, not_number: &'static str) -> Result<Option<i128>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        // With serde_json's arbitrary precision a number keeps its text.
        Some(Value::Number(number)) => Ok(Some(i128::from(round_up(number.as_str())))),
        Some(_) => Err(JwtError::Malformed(not_number)),
    }
}

/// JSON number `text` rounded up to a whole number, saturating at the ends of i64.
///
/// It is read as decimal digits rather than parsed as a float, which is exact and keeps the
/// float parser out of the component.
fn round_up(text: &str) -> i64 {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(unsigned) => (true, unsigned),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent_value(exponent)),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // How many of the digits come before the decimal point, once the exponent has moved it.
    let before_point = whole.len() as i64 + exponent;
    let mut magnitude: i64 = 0;
    let mut fractional = false;
    for (index, digit) in whole.bytes().chain(fraction.bytes()).enumerate() {
        let digit = i64::from(digit.wrapping_sub(b'0'));
        if (index as i64) < before_point {
            magnitude = magnitude.saturating_mul(10).saturating_add(digit);
        } else {
            fractional |= digit != 0;
        }
    }
    // Zeros that the exponent appends; a nonzero magnitude saturates within 19 of them.
    let mut zeros = before_point - (whole.len() + fraction.len()) as i64;
    while zeros > 0 && magnitude != 0 && magnitude != i64::MAX {
        magnitude = magnitude.saturating_mul(10);
        zeros -= 1;
    }
    if negative { -magnitude } else { magnitude.saturating_add(i64::from(fractional)) }
}

/// The exponent of a JSON number, `[+-]digits`, kept within a range that cannot overflow
/// [`round_up`]'s arithmetic.
fn exponent_value(text: &str) -> i64 {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let value =
        digits.bytes().fold(0_i64, |value, digit| (value * 10 + i64::from(digit.wrapping_sub(b'0'))).min(1 << 20));
    if negative { -value } else { value }
}

/// The usable keys of JWK set `text`.
fn parse_key_set(text: &str) -> Result<Vec<Key>, ConfigError> {
    let error = |why: String| ConfigError(format!("jwt_jwks: {why}"));
    let set: Value = serde_json::from_str(text).map_err(|parse| error(format!("is not JSON ({parse})")))?;
    let Some(Value::Array(members)) = set.get("keys") else {
        return Err(error(r#"is not a JWK set: an object whose "keys" is an array"#.into()));
    };
    let mut keys: Vec<Key> = Vec::new();
    for (index, member) in members.iter().enumerate() {
        let key = parse_key(member).map_err(|why| error(format!("/keys/{index} {why}")))?;
        let Some(key) = key else { continue };
        if let Some(id) = &key.id
            && keys.iter().any(|earlier| earlier.id.as_ref() == Some(id))
        {
            return Err(error(format!("/keys/{index} has the kid of an earlier key")));
        }
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(error(format!("has no EC P-256 (ES256) signature key among its {} keys", members.len())));
    }
    Ok(keys)
}

/// The key that JWK `member` describes; None when it is of a type or for a use not verified
/// here. The error says what is wrong with it, to follow its place in the set.
fn parse_key(member: &Value) -> Result<Option<Key>, String> {
    let Value::Object(jwk) = member else {
        return Err("is not a JSON object".into());
    };
    let text = |name: &str| match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.as_str())),
        Some(_) => Err(format!("has a {name} that is not a string")),
    };
    if jwk.contains_key("d") {
        return Err("has a private part (d): give only public keys".into());
    }
    let id = text("kid")?.map(str::to_owned);
    if text("use")?.is_some_and(|usage| usage != "sig") {
        return Ok(None);
    }
    let (kty, crv, alg) = (text("kty")?, text("crv")?, text("alg")?);
    let public = match (kty, crv) {
        (None, _) => return Err("has no kty".into()),
        (Some("EC"), Some("P-256")) if alg.is_none_or(|alg| alg == "ES256") => {
            let x = coordinate(text("x")?).ok_or("is an EC P-256 key whose x is not 32 bytes of base64url")?;
            let y = coordinate(text("y")?).ok_or("is an EC P-256 key whose y is not 32 bytes of base64url")?;
            let mut point = [4; 65];
            point[1..33].copy_from_slice(&x);
            point[33..].copy_from_slice(&y);
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                .map_err(|_| "is an EC P-256 key whose x and y are not a point of the curve")?;
            PublicKey::P256(key)
        }
        _ => return Ok(None),
    };
    Ok(Some(Key { id, public }))
}

/// `value`, unless it is empty or blank: an empty variable is an unset one.
fn given(value: Option<&str>) -> Option<&str> {
    value.filter(|text| !text.trim().is_empty())
}

/// The 32 bytes that base64url `text` encodes, if it does.
fn coordinate(text: Option<&str>) -> Option<[u8; 32]> {
    let mut bytes = [0; 32];
    let decoded = Base64UrlUnpadded::decode(text?, &mut bytes).ok()?;
    (decoded.len() == 32).then_some(bytes)
}

#[cfg(test)]
mod tests;
