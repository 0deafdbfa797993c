//! CRC-32C (Castagnoli), the checksum ext4's `metadata_csum` uses for inodes. The raw
//! register update, without the pre- and post-inversion, because ext4 chains it from a
//! seed (`ext2fs_crc32c_le`). A table-driven loop is plenty: we checksum a few thousand
//! 256-byte inodes per export.

const POLY: u32 = 0x82F6_3B78;

const TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// Continues a CRC-32C register over `data` (no inversion in or out).
pub fn update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_check_value() {
        // The catalogued check value of CRC-32C for "123456789".
        assert_eq!(!update(!0, b"123456789"), 0xE306_9283);
    }
}
