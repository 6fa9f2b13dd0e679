//! Access control's parsers: rules documents and bearer tokens (`access::rules`, `access::jwt`).
//!
//! The first byte picks the mode. Rules: the rest is a rules document; parsing never panics,
//! and rules that parse answer for a few pointers and callers, and obey the cascade (what is
//! allowed at a path is allowed below it). Tokens: the rest is a bearer token, checked against
//! an HS256 secret; verifying never panics, whatever the token's segments, header or claims.

use jsonstore::access::{Access, Claims, Rules, Verifier};
use jsonstore::core::{PointerBuf, Token};
use serde_json::json;

/// The HS256 secret tokens are checked against.
pub const SECRET: &str = "a fuzzing secret of thirty-two b";

/// Runs an input.
pub fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    if mode % 2 == 0 { rules(&text) } else { token(&text) }
}

fn rules(text: &str) {
    let Ok(rules) = Rules::parse(text) else { return };
    let claims: Claims = json!({"sub": "ada", "role": "admin"}).as_object().cloned().unwrap_or_default();
    for path in ["", "/a", "/users/ada", "/users/ada/x", "/public/0", "/a~1b/c"] {
        let pointer = PointerBuf::parse(path).expect("the paths are pointers");
        let below = pointer.with_trailing_token(Token::new("below"));
        for access in [Access::Read, Access::Write] {
            for auth in [None, Some(&claims)] {
                if rules.allows(access, &pointer, auth) {
                    assert!(rules.allows(access, &below, auth), "{access:?} at {path} but not below it: {text}");
                }
            }
        }
    }
}

fn token(text: &str) {
    let verifier = Verifier::from_config(Some(SECRET), None, None, None);
    let verifier = verifier.ok().flatten().expect("the secret is long enough");
    // A random token is refused; what matters is that it is refused without a panic.
    let _ = verifier.verify(text, 1_700_000_000);
}
