//! Recognising a status file of Perl's `Parallel::Scoreboard` by its content,
//! so that a reader pointed at the Perl module's directory can say so
//! ([`Reason::PerlStatusFile`](crate::Reason::PerlStatusFile)).
//!
//! Its record: the 16-byte MD5 digest of the payload, the payload's length as
//! a 4-byte big-endian integer, then the payload; the file never shrinks, so
//! bytes past the payload are left over from longer statuses. A file is taken
//! for one when its record is complete and the digest matches: a file that
//! merely has the Perl module's name (`status_<id>`) is not.
//!
//! Only entries already skipped (not a status file's name) are looked at, and
//! only once until they change: this is never on a read's hot path.

use std::fs::File;
use std::os::unix::fs::FileExt as _;

use crate::dir::BaseDir;
use crate::sys;

/// Largest payload looked at: a larger record is not taken for a Perl status.
const MAX_PAYLOAD: u64 = 16 << 20;

/// Whether the entry `name` of `dir` is a regular file holding a complete
/// Perl status record whose digest matches. Anything else (not there, not a
/// regular file, unreadable, too short, a digest that does not match) is not.
pub(super) fn is_status_file(dir: &BaseDir, name: &str) -> bool {
    // Looked at without opening first: a FIFO or a device is never opened.
    let is_file = std::fs::symlink_metadata(dir.entry(name)).is_ok_and(|m| m.is_file());
    is_file
        && sys::open_entry(dir.fd(), name, false)
            .is_ok_and(|file| file.metadata().is_ok_and(|m| m.is_file()) && holds_record(&file))
}

/// Whether `file` starts with a complete record whose digest matches.
fn holds_record(file: &File) -> bool {
    let Ok(size) = file.metadata().map(|m| m.len()) else {
        return false;
    };
    let mut head = [0_u8; 20];
    if size < 20 || file.read_exact_at(&mut head, 0).is_err() {
        return false;
    }
    let len = u64::from(u32::from_be_bytes([head[16], head[17], head[18], head[19]]));
    if len > MAX_PAYLOAD || 20 + len > size {
        return false;
    }
    let mut payload = vec![0_u8; len as usize];
    file.read_exact_at(&mut payload, 20).is_ok() && md5(&payload) == head[..16]
}

/// Per-round shift amounts of MD5 (RFC 1321).
const S: [u32; 16] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

/// MD5's sine table: `floor(abs(sin(i + 1)) * 2^32)` (RFC 1321).
const K: [u32; 64] = [
    0xd76a_a478,
    0xe8c7_b756,
    0x2420_70db,
    0xc1bd_ceee,
    0xf57c_0faf,
    0x4787_c62a,
    0xa830_4613,
    0xfd46_9501,
    0x6980_98d8,
    0x8b44_f7af,
    0xffff_5bb1,
    0x895c_d7be,
    0x6b90_1122,
    0xfd98_7193,
    0xa679_438e,
    0x49b4_0821,
    0xf61e_2562,
    0xc040_b340,
    0x265e_5a51,
    0xe9b6_c7aa,
    0xd62f_105d,
    0x0244_1453,
    0xd8a1_e681,
    0xe7d3_fbc8,
    0x21e1_cde6,
    0xc337_07d6,
    0xf4d5_0d87,
    0x455a_14ed,
    0xa9e3_e905,
    0xfcef_a3f8,
    0x676f_02d9,
    0x8d2a_4c8a,
    0xfffa_3942,
    0x8771_f681,
    0x6d9d_6122,
    0xfde5_380c,
    0xa4be_ea44,
    0x4bde_cfa9,
    0xf6bb_4b60,
    0xbebf_bc70,
    0x289b_7ec6,
    0xeaa1_27fa,
    0xd4ef_3085,
    0x0488_1d05,
    0xd9d4_d039,
    0xe6db_99e5,
    0x1fa2_7cf8,
    0xc4ac_5665,
    0xf429_2244,
    0x432a_ff97,
    0xab94_23a7,
    0xfc93_a039,
    0x655b_59c3,
    0x8f0c_cc92,
    0xffef_f47d,
    0x8584_5dd1,
    0x6fa8_7e4f,
    0xfe2c_e6e0,
    0xa301_4314,
    0x4e08_11a1,
    0xf753_7e82,
    0xbd3a_f235,
    0x2ad7_d2bb,
    0xeb86_d391,
];

/// The MD5 digest of `data` (RFC 1321): what the Perl module writes. Not for
/// security; only to recognise its records.
fn md5(data: &[u8]) -> [u8; 16] {
    let mut state: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    let mut tail = data.chunks_exact(64).remainder().to_vec();
    tail.push(0x80);
    while tail.len() % 64 != 56 {
        tail.push(0);
    }
    tail.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_le_bytes());
    for block in data.chunks_exact(64).chain(tail.chunks_exact(64)) {
        compress(&mut state, block);
    }
    let mut out = [0_u8; 16];
    for (o, s) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&s.to_le_bytes());
    }
    out
}

/// MD5's compression of one 64-byte `block` into `state`.
// The names of RFC 1321: its words `M`, its registers `A` to `D`, `F` and `g`.
#[allow(clippy::many_single_char_names)]
fn compress(state: &mut [u32; 4], block: &[u8]) {
    let m: Vec<u32> = block
        .chunks_exact(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect();
    let [mut a, mut b, mut c, mut d] = *state;
    for i in 0..64 {
        let (f, g) = match i / 16 {
            0 => ((b & c) | (!b & d), i),
            1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
            2 => (b ^ c ^ d, (3 * i + 5) % 16),
            _ => (c ^ (b | !d), (7 * i) % 16),
        };
        let rotated = a
            .wrapping_add(f)
            .wrapping_add(K[i])
            .wrapping_add(m[g])
            .rotate_left(S[(i / 16) * 4 + i % 4]);
        (a, b, c, d) = (d, b.wrapping_add(rotated), b, c);
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d]) {
        *s = s.wrapping_add(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(d: [u8; 16]) -> String {
        format!("{:032x}", u128::from_be_bytes(d))
    }

    #[test]
    fn md5_matches_the_rfc_1321_test_suite() {
        assert_eq!(hex(md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex(md5(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            hex(md5(b"message digest")),
            "f96b697d7cb7938d525a2f31aaf161d0"
        );
        let digits =
            b"12345678901234567890123456789012345678901234567890123456789012345678901234567890";
        assert_eq!(hex(md5(digits)), "57edf4a22be3c955ac49da2e2107b67a");
        // Lengths at the padding's edges: 56 needs a second block, 64 is one
        // whole block, 1000 several and a tail.
        let long = [b'a'; 1000];
        assert_eq!(hex(md5(&long[..56])), "3b0c8ac703f828b04c6c197006d17218");
        assert_eq!(hex(md5(&long[..64])), "014842d480b571495a4a0363793f7367");
        assert_eq!(hex(md5(&long)), "cabe45dcc9ae5b66ba86600cca6b8ba8");
    }
}
