//! Checks of a built `bootstrap`: the right architecture, and no glibc
//! symbol newer than what provided.al2023 ships.

use object::{Architecture as ElfArchitecture, Object, ObjectSection};

use crate::stack::Architecture;

/// The newest glibc of Amazon Linux 2023 (provided.al2023) is 2.34.
pub const MAX_GLIBC: (u32, u32) = (2, 34);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ElfError {
    #[error("not an ELF executable: {0}")]
    NotElf(String),
    #[error("built for {found}, not {expected}")]
    WrongArchitecture {
        expected: &'static str,
        found: String,
    },
    #[error("needs GLIBC_{}.{}, newer than the {}.{} of provided.al2023", .0.0, .0.1, MAX_GLIBC.0, MAX_GLIBC.1)]
    GlibcTooNew((u32, u32)),
}

/// The newest `GLIBC_x.y` version the binary's dynamic symbols require.
pub fn newest_glibc(data: &[u8]) -> Result<Option<(u32, u32)>, ElfError> {
    let file = object::File::parse(data).map_err(|e| ElfError::NotElf(e.to_string()))?;
    let Some(dynstr) = file.section_by_name(".dynstr") else {
        return Ok(None);
    };
    let strings = dynstr.data().map_err(|e| ElfError::NotElf(e.to_string()))?;
    Ok(strings
        .split(|b| *b == 0)
        .filter_map(|s| std::str::from_utf8(s).ok()?.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let (major, minor) = v.split_once('.')?;
            let minor = minor.split('.').next()?;
            Some((major.parse().ok()?, minor.parse().ok()?))
        })
        .max())
}

/// Checks that `data` is a Lambda bootstrap for `architecture`.
pub fn check_bootstrap(data: &[u8], architecture: Architecture) -> Result<(), ElfError> {
    let file = object::File::parse(data).map_err(|e| ElfError::NotElf(e.to_string()))?;
    let expected = match architecture {
        Architecture::Arm64 => ElfArchitecture::Aarch64,
        Architecture::X86_64 => ElfArchitecture::X86_64,
    };
    if file.architecture() != expected {
        return Err(ElfError::WrongArchitecture {
            expected: architecture.as_str(),
            found: format!("{:?}", file.architecture()),
        });
    }
    match newest_glibc(data)? {
        Some(version) if version > MAX_GLIBC => Err(ElfError::GlibcTooNew(version)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_binary_itself_is_an_elf_of_this_machine() {
        let data = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let native = if cfg!(target_arch = "aarch64") {
            Architecture::Arm64
        } else {
            Architecture::X86_64
        };
        let other = if native == Architecture::Arm64 {
            Architecture::X86_64
        } else {
            Architecture::Arm64
        };
        assert!(
            newest_glibc(&data).unwrap().is_some(),
            "a glibc binary names its versions"
        );
        assert!(matches!(
            check_bootstrap(&data, other),
            Err(ElfError::WrongArchitecture { .. })
        ));
    }

    #[test]
    fn text_is_not_an_elf() {
        assert!(matches!(
            check_bootstrap(b"#!/bin/sh\n", Architecture::Arm64),
            Err(ElfError::NotElf(_))
        ));
    }

    #[test]
    fn glibc_errors_name_both_versions() {
        assert_eq!(
            ElfError::GlibcTooNew((2, 38)).to_string(),
            "needs GLIBC_2.38, newer than the 2.34 of provided.al2023"
        );
    }
}
