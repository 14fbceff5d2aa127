//! Worker ids and the file names they map to.
//!
//! A status file is named `status_` followed by the id with every byte outside
//! `[A-Za-z0-9_.-]` written as `%XX`. That is injective, so two ids never share
//! a name, and no id can produce `/`, `.` or `..`. Where the escaped id would
//! make a name longer than [`NAME_MAX`], the name is `status_~` and a 128-bit FNV-1a
//! hash of the id (`~` is always escaped, so the two forms never meet). The id
//! itself is stored in the file's header; the name is only how an id finds its
//! file, and readers check that a header's id maps to its file's name.

use crate::error::{Error, Result};

/// Longest id, in bytes (the header's id field holds 256).
pub(crate) const MAX_ID_LEN: usize = 255;
/// Prefix of status file names.
pub(crate) const PREFIX: &str = "status_";
/// Prefix of publication temporaries.
pub(crate) const TMP_PREFIX: &str = ".sb-tmp-";
/// Longest file name on the file systems we run on.
const NAME_MAX: usize = 255;

/// Checks that `id` can be a worker id.
pub(crate) fn validate(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid_id("empty"));
    }
    if id.len() > MAX_ID_LEN {
        return Err(Error::invalid_id(format!(
            "{} bytes, at most {MAX_ID_LEN}",
            id.len()
        )));
    }
    Ok(())
}

/// The file name of the status file of `id` (which [`validate`] accepted).
pub(crate) fn file_name(id: &str) -> String {
    let mut name = String::with_capacity(PREFIX.len() + id.len());
    name.push_str(PREFIX);
    for &b in id.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-') {
            name.push(char::from(b));
        } else {
            name.push('%');
            name.push(char::from(HEX[usize::from(b >> 4)]));
            name.push(char::from(HEX[usize::from(b & 15)]));
        }
        if name.len() > NAME_MAX {
            return format!("{PREFIX}~{:032x}", fnv1a_128(id.as_bytes()));
        }
    }
    name
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// 128-bit FNV-1a: stable across builds and versions, which a name must be.
fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u128::from(b)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_read_as_themselves() {
        assert_eq!(file_name("4242"), "status_4242");
        assert_eq!(file_name("acceptor-3"), "status_acceptor-3");
    }

    #[test]
    fn escaping_ids_cannot_leave_the_directory() {
        for id in [".", "..", "../x", "a/b", "/etc/passwd", "x\0y", "~", "%41"] {
            let name = file_name(id);
            assert!(name.starts_with(PREFIX), "{name}");
            assert!(!name.contains('/') && !name.contains('\0'), "{name}");
            assert!(name.len() <= NAME_MAX);
        }
        assert_eq!(file_name("../x"), "status_..%2Fx");
        assert_ne!(file_name("%41"), file_name("A"));
        let slashes = "/".repeat(200);
        let name = file_name(&slashes);
        assert!(
            name.starts_with("status_~") && name.len() == PREFIX.len() + 1 + 32,
            "{name}"
        );
    }

    #[test]
    fn long_and_multibyte_ids_fit_a_name() {
        let long = "é".repeat(127); // 254 bytes, each escaped to 6 characters
        validate(&long).unwrap();
        let name = file_name(&long);
        assert!(name.len() <= NAME_MAX);
        assert_ne!(name, file_name(&"é".repeat(126)));
        let max = "x".repeat(255);
        assert!(file_name(&max).len() <= NAME_MAX);
    }

    #[test]
    fn invalid_ids_are_refused() {
        use crate::ErrorKind;
        assert_eq!(validate("").unwrap_err().kind(), ErrorKind::InvalidId);
        assert_eq!(
            validate(&"x".repeat(256)).unwrap_err().kind(),
            ErrorKind::InvalidId
        );
        validate(&"x".repeat(255)).unwrap();
    }
}
