//! Cross-origin requests (the Fetch standard's CORS protocol), so that a web page served from
//! another origin can read and write the document.
//!
//! JSONStore takes no credentials (no cookies, no authentication), so by default it lets every
//! origin in (`*`), as json-server and the Firebase REST API do. The `cors_allow_origin`
//! variable names the one origin to let in instead, or, empty, turns CORS off: browsers then
//! refuse pages from other origins.

use super::{ALLOW, Request, Response};

/// The response headers a cross-origin page may read, besides the ones every page may.
pub const EXPOSE_HEADERS: &str =
    "etag, location, content-location, preference-applied, retry-after, allow, accept-patch, www-authenticate";

/// The request headers a preflight allows when it names none (or names them oddly).
pub const ALLOW_HEADERS: &str = "authorization, content-type, if-match, if-none-match, prefer";

/// How long a browser may keep a preflight's answer, in seconds.
const MAX_AGE_SECONDS: &str = "86400";

/// Whether `value` may be `cors_allow_origin`: empty (off), `*`, or one origin such as
/// `https://example.com:8443` (a scheme, `://`, and a host with an optional port).
pub fn is_allow_origin(value: &str) -> bool {
    let Some((scheme, host)) = value.split_once("://") else {
        return value.is_empty() || value == "*";
    };
    let visible = |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_graphic() && byte != b'/');
    visible(scheme) && visible(host)
}

/// Adds the CORS headers to `response`: the allowed origin and the exposed headers, and for a
/// preflight (an `OPTIONS` request that names `Access-Control-Request-Method`) the allowed
/// methods and request headers. `request` is `None` when the request could not be read.
pub fn add_headers(response: &mut Response, allow_origin: &str, request: Option<&Request>) {
    if allow_origin.is_empty() {
        return;
    }
    let headers = &mut response.headers;
    headers.push(("access-control-allow-origin".into(), allow_origin.into()));
    headers.push(("access-control-expose-headers".into(), EXPOSE_HEADERS.into()));
    let Some(request) = request.filter(|request| request.method == "OPTIONS") else {
        return;
    };
    if request.header("access-control-request-method").is_none() {
        return;
    }
    // Any header the page asks for: they mean nothing to JSONStore unless listed above.
    let asked = request.header("access-control-request-headers").filter(|asked| is_header_list(asked));
    headers.push(("access-control-allow-methods".into(), ALLOW.into()));
    headers.push(("access-control-allow-headers".into(), asked.unwrap_or_else(|| ALLOW_HEADERS.into())));
    headers.push(("access-control-max-age".into(), MAX_AGE_SECONDS.into()));
}

/// Whether `value` is a comma-separated list of header names, safe to send back as it is.
fn is_header_list(value: &str) -> bool {
    !value.trim().is_empty()
        && value.split(',').all(|name| {
            let name = name.trim();
            !name.is_empty()
                && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, headers: &[(&str, &str)]) -> Request {
        let headers = headers.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect();
        Request { method: method.into(), headers, ..Request::default() }
    }

    fn headers_for(allow_origin: &str, request: Option<&Request>) -> Vec<(String, String)> {
        let mut response = Response::new(204);
        add_headers(&mut response, allow_origin, request);
        response.headers
    }

    #[test]
    fn every_response_names_the_origin_and_exposed_headers() {
        let headers = headers_for("*", Some(&request("GET", &[("origin", "https://app.example")])));
        assert_eq!(
            headers,
            [
                ("access-control-allow-origin".to_owned(), "*".to_owned()),
                ("access-control-expose-headers".to_owned(), EXPOSE_HEADERS.to_owned())
            ]
        );
        assert_eq!(headers_for("https://app.example", None)[0].1, "https://app.example");
        assert_eq!(headers_for("", Some(&request("GET", &[]))), []);
    }

    #[test]
    fn preflights_allow_the_methods_and_the_headers_asked_for() {
        let preflight = |asked: Option<&str>| {
            let mut headers = vec![("access-control-request-method", "PUT")];
            headers.extend(asked.map(|asked| ("access-control-request-headers", asked)));
            let found = headers_for("*", Some(&request("OPTIONS", &headers)));
            let value = |name: &str| found.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
            (value("access-control-allow-methods"), value("access-control-allow-headers"))
        };
        assert_eq!(
            preflight(Some("content-type,if-match")),
            (Some(ALLOW.into()), Some("content-type,if-match".into()))
        );
        assert_eq!(preflight(None).1.as_deref(), Some(ALLOW_HEADERS));
        assert_eq!(preflight(Some("bad header\r\nx: y")).1.as_deref(), Some(ALLOW_HEADERS));
        // An OPTIONS request that is not a preflight gets no preflight headers.
        assert_eq!(headers_for("*", Some(&request("OPTIONS", &[]))).len(), 2);
    }

    #[test]
    fn allowed_origins() {
        for good in ["", "*", "https://app.example", "http://localhost:5173"] {
            assert!(is_allow_origin(good), "{good:?}");
        }
        for bad in ["app.example", "https://", "https://a.example/path", "https://a b", "*, https://a.example"] {
            assert!(!is_allow_origin(bad), "{bad:?}");
        }
    }
}
