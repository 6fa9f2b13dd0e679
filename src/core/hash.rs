//! Content hashes: the first 16 bytes of BLAKE3, in lower-case hex.
//!
//! Storage records carry the hashes of their pages and ETags quote the hash of a value's JSON,
//! so both are written by this one function: changing it changes every stored hash and every
//! tag, which is why a test pins its output. Sixteen bytes (128 bits) keep records short and
//! still make an accidental collision negligible.

/// The content hash of `bytes`: the first 16 bytes of their BLAKE3 hash, as 32 lower-case
/// hexadecimal digits.
pub fn hex(bytes: &[u8]) -> String {
    let digest = blake3::hash(bytes);
    let mut hex = String::with_capacity(32);
    for byte in &digest.as_bytes()[..16] {
        hex.push(char::from_digit(u32::from(byte >> 4), 16).expect("a nibble"));
        hex.push(char::from_digit(u32::from(byte & 15), 16).expect("a nibble"));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_the_first_sixteen_bytes_of_blake3_in_lower_case_hex() {
        // BLAKE3 of the empty input is af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262.
        assert_eq!(hex(b""), "af1349b9f5f9a1a6a0404dea36dcc949");
        assert_eq!(hex(b"2"), "813e9b729141e7f385afa0a2d0df3e6c");
    }
}
