//! Reproducible Lambda zips: one `bootstrap` entry with a fixed timestamp
//! and mode, so the same binary always gives the same bytes (and hash).

use std::io::{Cursor, Write};

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// A zip holding `bootstrap` (mode 0755, dated 1980-01-01, deflate level 9).
pub fn bootstrap_zip(binary: &[u8]) -> Vec<u8> {
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(DateTime::default())
        .unix_permissions(0o755);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("bootstrap", options)
        .and_then(|()| zip.write_all(binary).map_err(Into::into))
        .expect("writing to memory cannot fail");
    zip.finish()
        .expect("writing to memory cannot fail")
        .into_inner()
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_binary_gives_the_same_zip() {
        let binary = b"\x7fELF pretend binary".repeat(1000);
        let first = bootstrap_zip(&binary);
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(first, bootstrap_zip(&binary), "no clock reaches the zip");
        assert_ne!(first, bootstrap_zip(b"another binary"));
    }

    #[test]
    fn the_zip_holds_one_executable_bootstrap() {
        let bytes = bootstrap_zip(b"binary");
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        assert_eq!(archive.len(), 1);
        let entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "bootstrap");
        assert_eq!(entry.unix_mode().unwrap() & 0o777, 0o755);
        assert_eq!(entry.last_modified(), Some(DateTime::default()));
    }

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
