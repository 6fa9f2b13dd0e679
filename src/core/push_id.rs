//! Keys for values added to an object with `POST`, like Firebase push IDs.
//!
//! Twenty characters from an alphabet in ASCII order: eight encode the time in milliseconds
//! and twelve are random, so keys sort by creation time and do not collide.

const ALPHABET: &[u8; 64] = b"-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

/// A push ID for time `millis` (since the Unix epoch) and 72 random bits.
pub fn new(millis: u64, random: [u8; 9]) -> String {
    let mut id = String::with_capacity(20);
    for shift in (0..8).rev() {
        id.push(ALPHABET[((millis >> (6 * shift)) & 63) as usize] as char);
    }
    let bits = random.iter().fold(0u128, |acc, &byte| (acc << 8) | u128::from(byte));
    for shift in (0..12).rev() {
        id.push(ALPHABET[((bits >> (6 * shift)) & 63) as usize] as char);
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shape() {
        let id = new(1_700_000_000_000, [0; 9]);
        assert_eq!(id.len(), 20);
        assert!(id.ends_with("------------"));
        assert_ne!(new(1, [1; 9]), new(1, [2; 9]));
    }

    proptest! {
        #[test]
        fn later_ids_sort_later(a in 0u64..1 << 47, later in 1u64..1 << 47, ra: [u8; 9], rb: [u8; 9]) {
            prop_assert!(new(a, ra) < new(a + later, rb));
        }
    }
}
