//! A hello-world `wasi:http` component: the baseline that `cargo xtask bench` measures JSONStore against.
//!
//! It does the least a handler can do, answer 200 `hello` to every request, so its requests per
//! second are what `wasmtime serve` itself costs on the machine: instantiation, the HTTP
//! plumbing and the load generator, without any document work.

#[cfg(target_os = "wasi")]
mod component {
    use bindings::exports::wasi::http::incoming_handler::Guest;
    use bindings::wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

    /// The generated bindings and the export glue, which is the only unsafe code in the crate.
    #[allow(unsafe_code)]
    mod bindings {
        wit_bindgen::generate!({ path: "../../wit", world: "hello", generate_all });

        use super::Hello;
        export!(Hello);
    }

    struct Hello;

    impl Guest for Hello {
        fn handle(_request: IncomingRequest, outparam: ResponseOutparam) {
            let headers = Fields::from_list(&[("content-type".to_owned(), b"text/plain".to_vec())])
                .expect("a valid header field");
            let response = OutgoingResponse::new(headers);
            let body = response.body().expect("a new response has a body");
            ResponseOutparam::set(outparam, Ok(response));
            // If the client has gone away there is nobody left to tell.
            let Ok(stream) = body.write() else { return };
            if stream.blocking_write_and_flush(b"hello").is_err() {
                return;
            }
            drop(stream);
            let _ = OutgoingBody::finish(body, None);
        }
    }
}
