//! SHA-256 as oscar writes it everywhere: lower-case hex, and `sha256:<hex>` for the hashes
//! of rulebooks, registries, road data, the model and ledger records.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

/// A finished digest in lower-case hex, two digits a byte.
pub fn hex(digest: impl AsRef<[u8]>) -> String {
    let bytes = digest.as_ref();
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A finished SHA-256 digest as `sha256:<hex>`.
pub fn tagged(digest: impl AsRef<[u8]>) -> String {
    format!("sha256:{}", hex(digest))
}

/// SHA-256 of `bytes` in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(Sha256::digest(bytes))
}

/// SHA-256 of `bytes` as `sha256:<hex>`.
pub fn sha256_tagged(bytes: &[u8]) -> String {
    tagged(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_the_usual_lower_case_digest() {
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(sha256_hex(b""), empty);
        assert_eq!(sha256_tagged(b""), format!("sha256:{empty}"));
        assert_eq!(hex([0u8, 15, 255]), "000fff");
    }
}
