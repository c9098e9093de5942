//! The one-time secret of an approval link. Only its hash is stored, so the
//! table alone cannot be used to forge a link.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 32 random bytes from the operating system, as 64 hex digits.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex(&bytes))
}

/// What the table stores for `secret`.
pub fn secret_hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Whether `secret` is the one whose hash is `stored_hash`, compared in
/// constant time so response timing tells a guesser nothing.
pub fn secret_matches(secret: &str, stored_hash: Option<&str>) -> bool {
    let Some(stored) = stored_hash else {
        return false;
    };
    secret_hash(secret)
        .as_bytes()
        .ct_eq(stored.as_bytes())
        .into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_hashed() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(secret_hash(&a), secret_hash(&a));
        assert_ne!(secret_hash(&a), secret_hash(&b));
        assert_eq!(
            secret_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn only_the_right_secret_matches_its_hash() {
        let stored = secret_hash("abc");
        assert!(secret_matches("abc", Some(&stored)));
        assert!(!secret_matches("abd", Some(&stored)));
        assert!(!secret_matches("abc", Some(&stored[..10])));
        assert!(!secret_matches("abc", None));
    }
}
