//! Access control: who may read and write what. Closed by default.
//!
//! The component cannot see the client's address (a `wasi:http` request carries none, and a
//! host's address header can be forged), so it cannot tell a local request from a remote one:
//! with nothing configured, nobody gets in, and openness is an explicit setting
//! (`access = "open"`). Otherwise a caller shows a credential: a read token, a write token
//! (which also reads), and each is compared as a BLAKE3 digest, in constant time and without
//! telling lengths apart. Credentials never appear in problems or logs.

use crate::core::Pointer;

/// What a request does to the value at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads it, all of it.
    Read,
    /// Writes it (creates, replaces or removes it, or anything below it).
    Write,
}

/// The shortest token accepted, in bytes: a shorter one could be guessed.
pub const TOKEN_BYTES_MIN: usize = 16;

/// Who may do what, from the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// Whether anyone may read and write (`access = "open"`).
    open: bool,
    /// The digest of the read token, if one is configured.
    read_token: Option<Digest>,
    /// The digest of the write token, if one is configured.
    write_token: Option<Digest>,
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
    /// A caller with no credential.
    Anonymous,
    /// The holder of the read token.
    Reader,
    /// The holder of the write token.
    Writer,
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// It has no credential, and needs one (401).
    Unauthenticated,
    /// Its credential is not one the store knows (401).
    BadCredential,
    /// Its credential is good but does not allow this (403).
    Forbidden,
}

impl Policy {
    /// A store anyone may read and write.
    pub fn open() -> Self {
        Policy { open: true, ..Policy::default() }
    }

    /// The policy the configuration variables `access`, `read_token` and `write_token` set:
    /// closed unless `access` is `open`. An error names the variable.
    pub fn from_config(
        access: Option<&str>,
        read_token: Option<&str>,
        write_token: Option<&str>,
    ) -> Result<Policy, String> {
        let token = |name: &str, value: Option<&str>| match value.map(str::trim).filter(|value| !value.is_empty()) {
            None => Ok(None),
            Some(token) if token.len() < TOKEN_BYTES_MIN => {
                Err(format!("configuration variable {name} must be at least {TOKEN_BYTES_MIN} bytes long"))
            }
            Some(token) => Ok(Some(Digest::of(token))),
        };
        let policy = Policy {
            open: false,
            read_token: token("read_token", read_token)?,
            write_token: token("write_token", write_token)?,
        };
        match access.map(str::trim) {
            None | Some("") => Ok(policy),
            Some("open") if policy.read_token.is_none() && policy.write_token.is_none() => Ok(Policy::open()),
            Some("open") => Err("configuration variable access is open, so read_token and write_token would \
                                 mean nothing: set one or the other"
                .to_owned()),
            Some(other) => Err(format!("configuration variable access must be open or empty, not {other:?}")),
        }
    }

    /// Whether anyone may read and write.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Whether some credential could be accepted (a token is configured).
    pub fn takes_credentials(&self) -> bool {
        self.read_token.is_some() || self.write_token.is_some()
    }

    /// Who sends `credential` (a bearer token), if the store knows it.
    pub fn caller(&self, credential: Option<&str>) -> Result<Caller, Refusal> {
        if self.open {
            return Ok(Caller::Anyone);
        }
        let Some(credential) = credential else { return Ok(Caller::Anonymous) };
        let digest = Some(Digest::of(credential));
        // Both comparisons always run, so the time taken does not say which token matched.
        let (writer, reader) = (digest == self.write_token, digest == self.read_token);
        match (writer, reader) {
            (true, _) => Ok(Caller::Writer),
            (false, true) => Ok(Caller::Reader),
            (false, false) => Err(Refusal::BadCredential),
        }
    }

    /// Whether `caller` may have `access` to the value at `pointer`.
    pub fn allows(&self, caller: &Caller, access: Access, _pointer: &Pointer) -> Result<(), Refusal> {
        match (caller, access) {
            (Caller::Anyone | Caller::Writer, _) | (Caller::Reader, Access::Read) => Ok(()),
            (Caller::Reader, Access::Write) => Err(Refusal::Forbidden),
            (Caller::Anonymous, _) => Err(Refusal::Unauthenticated),
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
        let closed = Policy::from_config(None, None, None).unwrap();
        assert!(!closed.is_open() && !closed.takes_credentials());
        assert_eq!(closed.caller(None), Ok(Caller::Anonymous));
        assert_eq!(closed.allows(&Caller::Anonymous, Access::Read, Pointer::root()), Err(Refusal::Unauthenticated));
        assert_eq!(closed.caller(Some("anything at all, long")), Err(Refusal::BadCredential));
        let open = Policy::from_config(Some("open"), None, Some("")).unwrap();
        assert_eq!(open.caller(None), Ok(Caller::Anyone));
        assert_eq!(open.allows(&Caller::Anyone, Access::Write, Pointer::root()), Ok(()));
    }

    #[test]
    fn tokens_read_and_write() {
        let policy = Policy::from_config(Some(""), Some(READ), Some(WRITE)).unwrap();
        assert_eq!(policy.caller(Some(READ)), Ok(Caller::Reader));
        assert_eq!(policy.caller(Some(WRITE)), Ok(Caller::Writer));
        assert_eq!(policy.caller(Some(&READ[1..])), Err(Refusal::BadCredential));
        assert_eq!(policy.caller(Some("")), Err(Refusal::BadCredential));
        let root = Pointer::root();
        assert_eq!(policy.allows(&Caller::Reader, Access::Read, root), Ok(()));
        assert_eq!(policy.allows(&Caller::Reader, Access::Write, root), Err(Refusal::Forbidden));
        assert_eq!(policy.allows(&Caller::Writer, Access::Write, root), Ok(()));
        assert!(!format!("{policy:?}").contains("token-0123"), "the configuration never shows a token");
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(Policy::from_config(None, Some("short"), None).unwrap_err().contains("read_token"));
        assert!(Policy::from_config(Some("open"), None, Some(WRITE)).unwrap_err().contains("access"));
        assert!(Policy::from_config(Some("public"), None, None).unwrap_err().contains("access"));
    }
}
