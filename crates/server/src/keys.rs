//! The server's own keys: the key-encryption key (KEK) and the token-hash
//! keys, from configuration or from files in the data directory.
//!
//! On first start of the embedded default the files are created with mode
//! 0600. After that a missing or changed key stops the server with a clear
//! message: the database records each key's fingerprint, and a server that
//! generated a fresh key over existing data would silently lose every stored
//! secret and token.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use tollgate_core::token::{HashKey, TokenHasher};
use zeroize::Zeroizing;

use crate::config::Config;

/// The key that will wrap each organization's data keys (used by envelope
/// encryption). Zeroized on drop.
pub struct Kek {
    key: Zeroizing<[u8; 32]>,
    id: String,
}

impl Kek {
    fn new(key: Zeroizing<[u8; 32]>) -> Self {
        let mut h = Sha256::new();
        h.update(b"tollgate kek id v1\0");
        h.update(key.as_ref());
        let id = h.finalize()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Kek { key, id }
    }
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn bytes(&self) -> &[u8; 32] {
        &self.key
    }
    /// This key as the vault's key-encryption key (same id).
    pub fn envelope(&self) -> tollgate_core::envelope::LocalKek {
        tollgate_core::envelope::LocalKek::new(self.key.clone())
    }
}

pub struct Keys {
    pub kek: Kek,
    /// The KEK before a rotation, while one is under way.
    pub previous_kek: Option<Kek>,
    pub token_hasher: TokenHasher,
    pub checkpoint_key: tollgate_core::checkpoint::CheckpointKey,
    /// Files created by this start (first start of an embedded deployment).
    pub created: Vec<PathBuf>,
}

/// Whether keys may be generated: only when the database holds nothing
/// keyed by them yet (the caller checks the recorded fingerprints).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generate {
    Allowed,
    Refused,
}

/// Key purposes as recorded in the database's fingerprints.
pub const KEK: &str = "kek";
pub const TOKEN_HASH: &str = "token_hash";
pub const AUDIT_SIGNING: &str = "audit_signing";

/// Loads every key; a key may be generated only when the database has no
/// fingerprint for its purpose yet (`recorded` lists those it has).
pub fn load_for(config: &Config, recorded: &[String]) -> anyhow::Result<Keys> {
    let may = |purpose: &str| {
        if recorded.iter().any(|r| r == purpose) {
            Generate::Refused
        } else {
            Generate::Allowed
        }
    };
    load_with(config, may(KEK), may(TOKEN_HASH), may(AUDIT_SIGNING))
}

pub fn load(config: &Config, generate: Generate) -> anyhow::Result<Keys> {
    load_with(config, generate, generate, generate)
}

fn load_with(
    config: &Config,
    kek_gen: Generate,
    hash_gen: Generate,
    signing_gen: Generate,
) -> anyhow::Result<Keys> {
    let mut created = Vec::new();
    let keys_dir = config.data_dir.join("keys");
    let kek_text = secret_text(
        &config.security.kek,
        &config.security.kek_file,
        &keys_dir.join("kek"),
        kek_gen,
        &mut created,
        "security.kek",
    )?;
    let kek = Kek::new(decode_key(&kek_text).context("security.kek")?);
    let previous_kek = previous_kek(config)?;
    let hash_text = secret_text(
        &config.security.token_hash_keys,
        &config.security.token_hash_keys_file,
        &keys_dir.join("token-hash"),
        hash_gen,
        &mut created,
        "security.token_hash_keys",
    )?;
    let mut hash_keys = Vec::new();
    for part in hash_text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        hash_keys.push(HashKey::new(
            *decode_key(part).context("security.token_hash_keys")?,
        ));
    }
    let token_hasher =
        TokenHasher::new(hash_keys).context("security.token_hash_keys holds no key")?;
    let signing_text = secret_text(
        &config.security.audit_signing_key,
        &config.security.audit_signing_key_file,
        &keys_dir.join("audit-signing"),
        signing_gen,
        &mut created,
        "security.audit_signing_key",
    )?;
    let checkpoint_key = tollgate_core::checkpoint::CheckpointKey::from_seed(
        &decode_key(&signing_text).context("security.audit_signing_key")?,
    );
    Ok(Keys {
        kek,
        previous_kek,
        token_hasher,
        checkpoint_key,
        created,
    })
}

/// The optional previous KEK: configured during a rotation only, never
/// generated.
fn previous_kek(config: &Config) -> anyhow::Result<Option<Kek>> {
    let s = &config.security;
    if s.previous_kek.is_empty() && s.previous_kek_file.is_empty() {
        return Ok(None);
    }
    let text = if s.previous_kek.is_empty() {
        read_key_file(Path::new(&s.previous_kek_file), "security.previous_kek")?
    } else {
        Zeroizing::new(s.previous_kek.clone())
    };
    Ok(Some(Kek::new(
        decode_key(&text).context("security.previous_kek")?,
    )))
}

/// A key from a file that must exist and be private (mode 0600).
pub fn read_key_file(path: &Path, name: &str) -> anyhow::Result<Zeroizing<String>> {
    check_private(path).with_context(|| format!("{name}: {}", path.display()))?;
    Ok(Zeroizing::new(fs::read_to_string(path).with_context(
        || format!("{name}: cannot read {}", path.display()),
    )?))
}

/// A KEK from a private file, created with a fresh random key (mode 0600)
/// when missing: the new key of a KEK rotation.
pub fn kek_from_file_or_new(path: &Path) -> anyhow::Result<(Kek, bool)> {
    if path.exists() {
        let text = read_key_file(path, "the new KEK")?;
        return Ok((Kek::new(decode_key(&text).context("the new KEK")?), false));
    }
    let mut key = Zeroizing::new([0u8; 32]);
    getrandom::fill(key.as_mut()).map_err(|e| anyhow::anyhow!("randomness unavailable: {e}"))?;
    write_private(path, &Zeroizing::new(STANDARD.encode(key.as_ref())))?;
    Ok((Kek::new(key), true))
}

fn decode_key(text: &str) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    let bytes = Zeroizing::new(STANDARD.decode(text.trim()).context("not base64")?);
    let mut key = Zeroizing::new([0u8; 32]);
    if bytes.len() != 32 {
        bail!(
            "a key must be 32 bytes (44 base64 characters), found {} bytes",
            bytes.len()
        );
    }
    key.copy_from_slice(&bytes);
    Ok(key)
}

/// A secret from its inline setting, its `_file` setting, or the default
/// file in the data directory (created when allowed).
fn secret_text(
    inline: &str,
    file: &str,
    default_file: &Path,
    generate: Generate,
    created: &mut Vec<PathBuf>,
    name: &str,
) -> anyhow::Result<Zeroizing<String>> {
    if !inline.is_empty() {
        return Ok(Zeroizing::new(inline.to_owned()));
    }
    let path = if file.is_empty() {
        default_file.to_path_buf()
    } else {
        PathBuf::from(file)
    };
    if path.exists() {
        check_private(&path)?;
        return Ok(Zeroizing::new(fs::read_to_string(&path).with_context(
            || format!("{name}: cannot read {}", path.display()),
        )?));
    }
    if generate == Generate::Refused || !file.is_empty() {
        bail!(
            "{name}: the key file {} is missing, but the database was initialized with a key. \
             Restore the key from your backup; starting with a new key would make stored secrets unreadable",
            path.display()
        );
    }
    let mut key = Zeroizing::new([0u8; 32]);
    getrandom::fill(key.as_mut()).map_err(|e| anyhow::anyhow!("randomness unavailable: {e}"))?;
    let text = Zeroizing::new(STANDARD.encode(key.as_ref()));
    write_private(&path, &text)?;
    created.push(path);
    Ok(text)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    // create_new: never overwrite a key that appeared meanwhile.
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, format!("{text}\n"))?;
    Ok(())
}

#[cfg(unix)]
fn check_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "{} is readable by other users (mode {mode:o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path) -> Config {
        let mut c = crate::config::load(None, &[]).unwrap().config;
        c.data_dir = dir.to_path_buf();
        c
    }

    #[test]
    fn first_start_creates_private_key_files() {
        let dir = tempfile::tempdir().unwrap();
        let keys = load(&config(dir.path()), Generate::Allowed).unwrap();
        assert_eq!(keys.created.len(), 3);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("keys/kek"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = load(&config(dir.path()), Generate::Refused).unwrap();
        assert!(again.created.is_empty());
        assert_eq!(again.kek.id(), keys.kek.id());
        use tollgate_core::envelope::KeyEncryptionKey;
        assert_eq!(keys.kek.envelope().id(), keys.kek.id());
    }

    #[test]
    fn a_missing_key_is_not_regenerated_over_existing_data() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(&config(dir.path()), Generate::Refused).err().unwrap();
        assert!(format!("{err:#}").contains("Restore the key"), "{err:#}");
    }

    #[cfg(unix)]
    #[test]
    fn a_world_readable_key_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        load(&config(dir.path()), Generate::Allowed).unwrap();
        fs::set_permissions(
            dir.path().join("keys/kek"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        assert!(load(&config(dir.path()), Generate::Refused).is_err());
    }

    #[test]
    fn short_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.security.kek = STANDARD.encode([1u8; 16]);
        assert!(format!("{:#}", load(&c, Generate::Allowed).err().unwrap()).contains("32 bytes"));
    }
}
