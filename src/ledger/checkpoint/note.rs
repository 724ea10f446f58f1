//! Ed25519 keys and signed notes in the format of Go's `golang.org/x/mod/sumdb/note`, which
//! transparency-log checkpoints use (C2SP `signed-note`): a note is UTF-8 text ending in a
//! newline, a blank line, then one line per signature, `— NAME BASE64`, where the base64
//! holds the key's 4-byte id followed by the 64-byte signature of the text. A key's id is
//! the first four bytes of SHA-256(`NAME` `\n` `0x01` public key), `0x01` naming Ed25519.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer, Verifier};
use sha2::{Digest, Sha256};

/// The algorithm byte of Ed25519 keys.
const ED25519: u8 = 0x01;
/// What opens a private key's text.
const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";
/// What opens a signature line: an em dash and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Why a key's text is not a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// Why a note is not a valid one signed by a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NoteError(String);

/// The 4-byte id of the key `public` named `name`.
fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let h =
        Sha256::new().chain_update(name).chain_update(b"\n").chain_update([ED25519]).chain_update(public).finalize();
    [h[0], h[1], h[2], h[3]]
}

/// A key name as the note format allows: not empty, no `+`, no white space.
fn check_name(name: &str) -> Result<(), KeyError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(KeyError(format!("key name `{name}` must be non-empty, without `+` or spaces")));
    }
    Ok(())
}

/// `NAME+ID+BASE64` with the algorithm byte before the 32 key bytes.
fn encode(name: &str, id: [u8; 4], key: &[u8; 32]) -> String {
    let mut bytes = vec![ED25519];
    bytes.extend_from_slice(key);
    format!("{name}+{:08x}+{}", u32::from_be_bytes(id), BASE64.encode(bytes))
}

/// The name, id and 32 key bytes of `NAME+ID+BASE64`.
fn decode(text: &str) -> Result<(String, [u8; 4], [u8; 32]), KeyError> {
    let bad = |why: &str| KeyError(format!("not an oscar checkpoint key ({why})"));
    // From the left: names have no `+`, base64 may.
    let mut parts = text.trim().splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected NAME+ID+KEY"));
    };
    check_name(name)?;
    let id =
        u32::from_str_radix(id, 16).ok().filter(|_| id.len() == 8).ok_or_else(|| bad("the id is not 8 hex digits"))?;
    let bytes = BASE64.decode(key).map_err(|_| bad("the key is not base64"))?;
    match bytes.split_first() {
        Some((&ED25519, key)) => {
            let key = key.try_into().map_err(|_| bad("an Ed25519 key has 32 bytes"))?;
            Ok((name.to_string(), id.to_be_bytes(), key))
        }
        _ => Err(bad("not an Ed25519 key")),
    }
}

/// A private key with its name (the origin of the checkpoints it signs).
pub struct SigningKey {
    name: String,
    key: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// A new key from the operating system's random source.
    pub fn generate(name: &str) -> Result<SigningKey, KeyError> {
        check_name(name)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError(format!("no random bytes from the system: {e}")))?;
        Ok(SigningKey { name: name.to_string(), key: ed25519_dalek::SigningKey::from_bytes(&seed) })
    }

    /// Reads `PRIVATE+KEY+NAME+ID+BASE64`, checking the id against the key.
    pub fn parse(text: &str) -> Result<SigningKey, KeyError> {
        let rest = text
            .trim()
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or_else(|| KeyError(format!("not a private key (it does not start with `{PRIVATE_PREFIX}`)")))?;
        let (name, id, seed) = decode(rest)?;
        let key = SigningKey { name, key: ed25519_dalek::SigningKey::from_bytes(&seed) };
        if key.verifier().id != id {
            return Err(KeyError("the key's id does not match the key".into()));
        }
        Ok(key)
    }

    /// The private key's text (what [`SigningKey::parse`] reads).
    pub fn to_text(&self) -> String {
        format!("{PRIVATE_PREFIX}{}", encode(&self.name, self.verifier().id, self.key.as_bytes()))
    }

    /// The public half.
    pub fn verifier(&self) -> VerifierKey {
        let key = self.key.verifying_key();
        VerifierKey { id: key_id(&self.name, key.as_bytes()), name: self.name.clone(), key }
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `text` (which must end in a newline) signed: the note. Ed25519 signatures are
    /// deterministic, so the same text gives the same note.
    pub fn sign(&self, text: &str) -> String {
        let mut sig = self.verifier().id.to_vec();
        sig.extend_from_slice(&self.key.sign(text.as_bytes()).to_bytes());
        format!("{text}\n{SIGNATURE_PREFIX}{} {}\n", self.name, BASE64.encode(sig))
    }
}

/// A public key with its name: what a third party needs to check checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: [u8; 4],
    key: ed25519_dalek::VerifyingKey,
}

impl VerifierKey {
    /// Reads `NAME+ID+BASE64`, checking the id against the key.
    pub fn parse(text: &str) -> Result<VerifierKey, KeyError> {
        if text.trim().starts_with(PRIVATE_PREFIX) {
            return Err(KeyError("this is a private key; give its public key (the `.pub` file)".into()));
        }
        let (name, id, bytes) = decode(text)?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| KeyError("the key is not a valid Ed25519 public key".into()))?;
        if key_id(&name, key.as_bytes()) != id {
            return Err(KeyError("the key's id does not match the key".into()));
        }
        Ok(VerifierKey { name, id, key })
    }

    /// The public key's text (what [`VerifierKey::parse`] reads).
    pub fn to_text(&self) -> String {
        encode(&self.name, self.id, self.key.as_bytes())
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signed text of `note` if one of its signatures is this key's and valid.
    pub fn open<'n>(&self, note: &'n str) -> Result<&'n str, NoteError> {
        let split = note.rfind("\n\n").ok_or_else(|| NoteError("not a signed note (no blank line)".into()))?;
        let (text, signatures) = (&note[..=split], &note[split + 2..]);
        let mut ours = signatures
            .lines()
            .filter_map(|line| line.strip_prefix(SIGNATURE_PREFIX)?.split_once(' '))
            .filter(|(name, _)| *name == self.name)
            .filter_map(|(_, sig)| BASE64.decode(sig).ok())
            .filter(|sig| sig.len() == 68 && sig[..4] == self.id);
        let sig = ours.next().ok_or_else(|| NoteError(format!("not signed by the key `{}`", self.to_text())))?;
        let sig = ed25519_dalek::Signature::from_slice(&sig[4..])
            .map_err(|_| NoteError("the signature is not an Ed25519 signature".into()))?;
        self.key.verify(text.as_bytes(), &sig).map_err(|_| {
            NoteError(format!("the signature of `{}` does not verify: the text was changed", self.name))
        })?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_back_and_notes_verify_only_unchanged_and_with_their_key() {
        let key = SigningKey::generate("example.org/log").unwrap();
        let again = SigningKey::parse(&key.to_text()).unwrap();
        assert_eq!(again.to_text(), key.to_text());
        let public = VerifierKey::parse(&key.verifier().to_text()).unwrap();
        assert_eq!(public, key.verifier());
        let note = key.sign("example.org/log\n3\nAAAA\n");
        assert_eq!(note, key.sign("example.org/log\n3\nAAAA\n"), "Ed25519 signs deterministically");
        assert_eq!(public.open(&note), Ok("example.org/log\n3\nAAAA\n"));
        assert!(public.open(&note.replace("\n3\n", "\n4\n")).unwrap_err().0.contains("does not verify"));
        let other = SigningKey::generate("example.org/log").unwrap().verifier();
        assert!(other.open(&note).unwrap_err().0.contains("not signed by the key"));
        assert!(VerifierKey::parse(&key.to_text()).unwrap_err().0.contains("private key"));
        assert!(SigningKey::generate("with space").is_err());
        let text = key.verifier().to_text();
        let (head, tail) = text.split_at(text.len() - 3);
        let flipped = if tail.starts_with('A') { "B" } else { "A" };
        assert!(VerifierKey::parse(&format!("{head}{flipped}{}", &tail[1..])).is_err());
    }
}
