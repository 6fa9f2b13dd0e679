//! Access control: who may read and write what. Closed by default.
//!
//! The component cannot see the client's address (an incoming request carries none, and a
//! host's address header can be forged), so it cannot tell a local request from a remote one:
//! with nothing configured, nobody gets in, and openness is an explicit setting
//! (`access = "open"`). Otherwise a caller shows a credential: a read token, a write token
//! (which also reads), and each is compared as a BLAKE3 digest, in constant time and without
//! telling lengths apart. Per-user [`rules`] decide, path by path, what a user may do: a caller
//! with a JWT that [`jwt`] verifies, whose claims the rules see as `auth`, or a caller with no
//! credential at all (`auth == null`). Credentials never appear in problems or logs.

pub mod jwt;
pub mod rules;

pub use jwt::{JwtError, Verifier};
pub use rules::{Access, Claims, Rules};

use crate::core::Pointer;

/// The shortest token accepted, in bytes: a shorter one could be guessed.
pub const TOKEN_BYTES_MIN: usize = 16;

/// Who may do what, from the configuration.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Whether anyone may read and write (`access = "open"`).
    open: bool,
    /// The digest of the read token, if one is configured.
    read_token: Option<Digest>,
    /// The digest of the write token, if one is configured.
    write_token: Option<Digest>,
    /// The per-user rules, if configured.
    rules: Option<Rules>,
    /// The verifier of users' JWTs, if keys are configured.
    jwt: Option<Verifier>,
}

/// The configuration variables that set the policy, as text (`None`: unset).
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings<'a> {
    /// `access`: `open`, or empty.
    pub access: Option<&'a str>,
    /// `read_token`.
    pub read_token: Option<&'a str>,
    /// `write_token`.
    pub write_token: Option<&'a str>,
    /// `rules`: a rules document (see [`rules`]).
    pub rules: Option<&'a str>,
    /// `jwt_secret`: the HS256 secret users' tokens are signed with.
    pub jwt_secret: Option<&'a str>,
    /// `jwt_jwks`: a JWK set of the public keys users' tokens are signed with.
    pub jwt_jwks: Option<&'a str>,
    /// `jwt_issuer`: the `iss` users' tokens must name.
    pub jwt_issuer: Option<&'a str>,
    /// `jwt_audience`: the `aud` users' tokens must name.
    pub jwt_audience: Option<&'a str>,
}

impl PartialEq for Policy {
    /// Policies are equal when they let in the same tokens and have rules or not alike.
    fn eq(&self, other: &Self) -> bool {
        (self.open, self.read_token, self.write_token, self.rules.is_some(), &self.jwt)
            == (other.open, other.read_token, other.write_token, other.rules.is_some(), &other.jwt)
    }
}

/// A token's BLAKE3 digest: equal digests mean equal tokens, and comparing them takes the same
/// time whatever the tokens are. It prints as `Digest(..)`.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Digest(blake3::Hash);

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Digest(..)")
    }
}

impl Digest {
    fn of(token: &str) -> Self {
        Digest(blake3::hash(token.as_bytes()))
    }
}

/// Who a request comes from, once its credential is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Anyone, in an open store.
    Anyone,
    /// A user whose verified token has these claims; the rules decide.
    User(Claims),
    /// A caller with no credential.
    Anonymous,
    /// The holder of the read token.
    Reader,
    /// The holder of the write token.
    Writer,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// It has no credential, and needs one (401).
    Unauthenticated,
    /// Its credential is not one the store knows (401); for a JWT, why.
    BadCredential(Option<JwtError>),
    /// Its credential is good but does not allow this (403).
    Forbidden,
}

impl Policy {
    /// A store anyone may read and write.
    pub fn open() -> Self {
        Policy { open: true, ..Policy::default() }
    }

    /// The policy the configuration variables set: closed unless `access` is `open`. An error
    /// names the variable; a bad rules document is an error, never an open store.
    pub fn from_config(settings: Settings<'_>) -> Result<Policy, String> {
        let Settings { access, read_token, write_token, rules, jwt_secret, jwt_jwks, jwt_issuer, jwt_audience } =
            settings;
        let jwt = Verifier::from_config(jwt_secret, jwt_jwks, jwt_issuer, jwt_audience)
            .map_err(|error| format!("configuration variable {error}"))?;
        let token = |name: &str, value: Option<&str>| match value.map(str::trim).filter(|value| !value.is_empty()) {
            None => Ok(None),
            Some(token) if token.len() < TOKEN_BYTES_MIN => {
                Err(format!("configuration variable {name} must be at least {TOKEN_BYTES_MIN} bytes long"))
            }
            Some(token) => Ok(Some(Digest::of(token))),
        };
        let rules = match rules.map(str::trim).filter(|rules| !rules.is_empty()) {
            None => None,
            Some(rules) => Some(Rules::parse(rules).map_err(|error| format!("configuration variable {error}"))?),
        };
        let policy = Policy {
            open: false,
            read_token: token("read_token", read_token)?,
            write_token: token("write_token", write_token)?,
            rules,
            jwt,
        };
        if policy.jwt.is_some() && policy.rules.is_none() {
            return Err("configuration variables jwt_secret or jwt_jwks are set but rules is not: a user's \
                        token grants what the rules say, so set rules"
                .to_owned());
        }
        match access.map(str::trim) {
            None | Some("") => Ok(policy),
            Some("open") if !policy.takes_credentials() && policy.rules.is_none() && policy.jwt.is_none() => {
                Ok(Policy::open())
            }
            Some("open") => Err("configuration variable access is open, so read_token, write_token and rules \
                                 would mean nothing: set one or the other"
                .to_owned()),
            Some(other) => Err(format!("configuration variable access must be open or empty, not {other:?}")),
        }
    }

    /// Whether anyone may read and write.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Whether some credential could be accepted (a token or JWT keys are configured).
    pub fn takes_credentials(&self) -> bool {
        self.read_token.is_some() || self.write_token.is_some() || self.jwt.is_some()
    }

    /// Whether a caller without a credential may be let in somewhere: the rules decide.
    pub fn admits_anonymous(&self) -> bool {
        self.open || self.rules.is_some()
    }

    /// Who sends `credential` (a bearer token: a read or write token, or a user's JWT, verified
    /// at `now_secs`, seconds since the Unix epoch), if the store knows it.
    pub fn caller(&self, credential: Option<&str>, now_secs: u64) -> Result<Caller, Refusal> {
        if self.open {
            return Ok(Caller::Anyone);
        }
        let Some(credential) = credential else { return Ok(Caller::Anonymous) };
        let digest = Some(Digest::of(credential));
        // Both comparisons always run, so the time taken does not say which token matched.
        let (writer, reader) = (digest == self.write_token, digest == self.read_token);
        match (writer, reader, &self.jwt) {
            (true, ..) => Ok(Caller::Writer),
            (false, true, _) => Ok(Caller::Reader),
            (false, false, Some(jwt)) => match jwt.verify(credential, now_secs) {
                Ok(claims) => Ok(Caller::User(claims)),
                Err(error) => Err(Refusal::BadCredential(Some(error))),
            },
            (false, false, None) => Err(Refusal::BadCredential(None)),
        }
    }

    /// Whether `caller` may have `access` to the value at `pointer`: tokens grant the whole
    /// document; the rules decide for users and callers without a credential.
    pub fn allows(&self, caller: &Caller, access: Access, pointer: &Pointer) -> Result<(), Refusal> {
        let ruled =
            |auth: Option<&Claims>| self.rules.as_ref().is_some_and(|rules| rules.allows(access, pointer, auth));
        match (caller, access) {
            (Caller::Anyone | Caller::Writer, _) | (Caller::Reader, Access::Read) => Ok(()),
            (Caller::Reader, Access::Write) => Err(Refusal::Forbidden),
            (Caller::Anonymous, _) if ruled(None) => Ok(()),
            (Caller::Anonymous, _) => Err(Refusal::Unauthenticated),
            (Caller::User(claims), _) if ruled(Some(claims)) => Ok(()),
            (Caller::User(_), _) => Err(Refusal::Forbidden),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READ: &str = "read-token-0123456789";
    const WRITE: &str = "write-token-0123456789";

    #[test]
    fn closed_unless_opened() {
        let closed = Policy::from_config(Settings::default()).unwrap();
        assert!(!closed.is_open() && !closed.takes_credentials());
        assert_eq!(closed.caller(None, 0), Ok(Caller::Anonymous));
        assert_eq!(closed.allows(&Caller::Anonymous, Access::Read, Pointer::root()), Err(Refusal::Unauthenticated));
        assert_eq!(closed.caller(Some("anything at all, long"), 0), Err(Refusal::BadCredential(None)));
        let open = Policy::from_config(Settings { access: Some("open"), write_token: Some(""), ..Settings::default() })
            .unwrap();
        assert_eq!(open.caller(None, 0), Ok(Caller::Anyone));
        assert_eq!(open.allows(&Caller::Anyone, Access::Write, Pointer::root()), Ok(()));
    }

    #[test]
    fn tokens_read_and_write() {
        let policy = Policy::from_config(Settings {
            access: Some(""),
            read_token: Some(READ),
            write_token: Some(WRITE),
            ..Settings::default()
        })
        .unwrap();
        assert_eq!(policy.caller(Some(READ), 0), Ok(Caller::Reader));
        assert_eq!(policy.caller(Some(WRITE), 0), Ok(Caller::Writer));
        assert_eq!(policy.caller(Some(&READ[1..]), 0), Err(Refusal::BadCredential(None)));
        assert_eq!(policy.caller(Some(""), 0), Err(Refusal::BadCredential(None)));
        let root = Pointer::root();
        assert_eq!(policy.allows(&Caller::Reader, Access::Read, root), Ok(()));
        assert_eq!(policy.allows(&Caller::Reader, Access::Write, root), Err(Refusal::Forbidden));
        assert_eq!(policy.allows(&Caller::Writer, Access::Write, root), Ok(()));
        assert!(!format!("{policy:?}").contains("token-0123"), "the configuration never shows a token");
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(
            Policy::from_config(Settings { read_token: Some("short"), ..Settings::default() })
                .unwrap_err()
                .contains("read_token")
        );
        assert!(
            Policy::from_config(Settings { access: Some("open"), write_token: Some(WRITE), ..Settings::default() })
                .unwrap_err()
                .contains("access")
        );
        assert!(
            Policy::from_config(Settings { access: Some("public"), ..Settings::default() })
                .unwrap_err()
                .contains("access")
        );
        let bad_rules =
            Policy::from_config(Settings { rules: Some(r#"{"a": {".red": true}}"#), ..Settings::default() });
        assert!(bad_rules.unwrap_err().contains("rules"), "a bad rules document is an error, never an open store");
    }

    #[test]
    fn rules_decide_for_callers_without_a_token() {
        let rules = r#"{"public": {".read": true}, "inbox": {".write": true}}"#;
        let policy =
            Policy::from_config(Settings { rules: Some(rules), write_token: Some(WRITE), ..Settings::default() })
                .unwrap();
        assert!(policy.admits_anonymous());
        let at = |text: &str| crate::core::PointerBuf::parse(text).unwrap();
        assert_eq!(policy.allows(&Caller::Anonymous, Access::Read, &at("/public/x")), Ok(()));
        assert_eq!(policy.allows(&Caller::Anonymous, Access::Write, &at("/public/x")), Err(Refusal::Unauthenticated));
        assert_eq!(policy.allows(&Caller::Anonymous, Access::Write, &at("/inbox")), Ok(()));
        assert_eq!(policy.allows(&Caller::Anonymous, Access::Read, &at("")), Err(Refusal::Unauthenticated));
        assert_eq!(policy.allows(&Caller::Writer, Access::Write, &at("")), Ok(()), "the write token writes anything");
    }
}
