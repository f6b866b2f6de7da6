//! The one way outputs are written: under a temporary name beside the
//! target, renamed over it only when complete.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file written under a temporary name in the target's folder and renamed
/// over the target only when complete, so that a failed or interrupted run
/// never leaves a half-written file or destroys the previous one.
///
/// A large file is synced to disk as it is written, by a helper thread,
/// [`SYNC_EVERY`] bytes at a time: the sync before the rename then has
/// little left to write, instead of holding up the end of a run.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    writer: Option<BufWriter<File>>,
    /// Bytes written, and when the helper was last asked to sync.
    written: u64,
    asked_at: u64,
    syncer: Option<Syncer>,
}

/// Bytes written between two early syncs of an [`AtomicFile`].
pub const SYNC_EVERY: u64 = 8 << 20;

/// The thread that syncs a file while it is being written.
#[derive(Debug)]
struct Syncer {
    /// A message asks for a sync; closing the channel ends the thread.
    ask: std::sync::mpsc::SyncSender<()>,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

impl Syncer {
    fn start(file: &File) -> std::io::Result<Syncer> {
        let file = file.try_clone()?;
        // one request waits at most: a sync asked for while another runs
        // covers what was written meanwhile
        let (ask, asked) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new().name("hhrisk-sync".into()).spawn(move || {
            for () in asked {
                file.sync_data()?;
            }
            Ok(())
        })?;
        Ok(Syncer { ask, thread })
    }

    /// Waits for the syncs asked for; the first error of any.
    fn finish(self) -> std::io::Result<()> {
        drop(self.ask);
        self.thread.join().unwrap_or_else(|_| Err(std::io::Error::other("the syncing thread failed")))
    }
}

impl AtomicFile {
    /// Starts writing `target`: into a new file beside it, created
    /// exclusively under a name no other run uses (never following a
    /// symbolic link), renamed over `target` by [`AtomicFile::commit`] and
    /// removed on every other path. A target that exists and is not a
    /// regular file (a folder, a device, a pipe) is refused. Temporary
    /// files of the same target left by runs that died are removed.
    pub fn create(target: &Path) -> std::io::Result<AtomicFile> {
        if let Ok(meta) = std::fs::metadata(target) {
            if !meta.is_file() {
                let what = if meta.is_dir() { "a folder" } else { "not a regular file" };
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("{} is {what}; give the path of a file to write", target.display()),
                ));
            }
        }
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let prefix = format!(".{name}.hhrisk-");
        remove_stale(&dir, &prefix);
        let mut attempt = 0u32;
        let (temp, file) = loop {
            let temp = dir.join(format!("{prefix}{}-{:016x}.tmp", std::process::id(), random_tag(attempt)));
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&temp) {
                Ok(file) => break (temp, file),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 16 => attempt += 1,
                Err(e) => return Err(e),
            }
        };
        Ok(AtomicFile {
            target: target.to_path_buf(),
            temp,
            // a batch of scores rows (about 19 KB for 256 households) is
            // larger than the buffer, so it goes to the file without a copy
            writer: Some(BufWriter::with_capacity(1 << 14, file)),
            written: 0,
            asked_at: 0,
            syncer: None,
        })
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> std::io::Result<()> {
        let Some(w) = self.writer.take() else { return Err(std::io::Error::other("file already committed")) };
        let done = (|| {
            let file = w.into_inner().map_err(|e| e.into_error())?;
            if let Some(syncer) = self.syncer.take() {
                syncer.finish()?;
            }
            file.sync_all()?;
            drop(file);
            std::fs::rename(&self.temp, &self.target)
        })();
        if done.is_err() {
            let _ = std::fs::remove_file(&self.temp);
        }
        done
    }
}

/// A number no other temporary file of this process has had, nor likely
/// any other process: the standard library's randomly seeded hasher over
/// the time, a counter and `attempt`.
fn random_tag(attempt: u32) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    h.write_u32(attempt);
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    h.finish()
}

/// Removes `dir/{prefix}{pid}-{tag}.tmp` files whose process is gone: what
/// a killed run left. Only where a process can be looked up (`/proc`).
fn remove_stale(dir: &Path, prefix: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_suffix(".tmp")) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        // a minute untouched as well: a writer on another machine sharing
        // the folder has a pid this one cannot see
        let idle = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() >= 60);
        if is_file && idle && pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let Some(w) = &mut self.writer else {
            return Err(std::io::Error::other("file already committed"));
        };
        let n = w.write(buf)?;
        self.written += n as u64;
        if self.written - self.asked_at >= SYNC_EVERY {
            self.asked_at = self.written;
            if self.syncer.is_none() {
                self.syncer = Some(Syncer::start(w.get_ref())?);
            }
            if let Some(syncer) = &self.syncer {
                // full: a sync is already waiting, and will cover this
                let _ = syncer.ask.try_send(());
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.as_mut().map_or(Ok(()), |w| w.flush())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_abandoned_atomic_file_leaves_the_old_one() {
        let dir = std::env::temp_dir().join(format!("hhrisk-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("out.csv");
        std::fs::write(&target, "old").unwrap();
        {
            let mut f = AtomicFile::create(&target).unwrap();
            f.write_all(b"half").unwrap();
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temporary_files_are_exclusive_and_cleaned_up() {
        let dir = std::env::temp_dir().join(format!("hhrisk-atomic-excl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("out.csv");
        // a run that died left its temporary file: the next one removes it
        let stale = dir.join(".out.csv.hhrisk-4000000000-00000000000000aa.tmp");
        std::fs::write(&stale, "half").unwrap();
        let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options().write(true).open(&stale).unwrap().set_modified(an_hour_ago).unwrap();
        // one just written is left: its writer may be on another machine
        let fresh = dir.join(".out.csv.hhrisk-4000000001-00000000000000bb.tmp");
        std::fs::write(&fresh, "half").unwrap();
        // two writers of one target in one process do not share a file
        let mut a = AtomicFile::create(&target).unwrap();
        assert!(!stale.exists(), "a dead run's temporary file is removed");
        assert!(fresh.exists(), "a fresh one is left");
        std::fs::remove_file(&fresh).unwrap();
        let mut b = AtomicFile::create(&target).unwrap();
        assert_ne!(a.temp, b.temp);
        a.write_all(b"aaaa").unwrap();
        b.write_all(b"bb").unwrap();
        a.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "aaaa");
        drop(b);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        // a folder or a device is not a file to write
        let e = AtomicFile::create(&dir).err().unwrap();
        assert!(e.to_string().contains("is a folder"), "{e}");
        #[cfg(unix)]
        assert!(AtomicFile::create(Path::new("/dev/null"))
            .err()
            .unwrap()
            .to_string()
            .contains("not a regular file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_large_file_synced_as_it_is_written_comes_out_whole() {
        let dir = std::env::temp_dir().join(format!("hhrisk-atomic-large-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("out.csv");
        // three and a half times SYNC_EVERY, in rows of 100 bytes: the
        // helper is asked to sync three times along the way
        let row: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
        let rows = (SYNC_EVERY * 7 / 2) as usize / row.len();
        let mut f = AtomicFile::create(&target).unwrap();
        for _ in 0..rows {
            f.write_all(&row).unwrap();
        }
        assert!(f.syncer.is_some(), "a file this large is synced as it goes");
        f.commit().unwrap();
        let written = std::fs::read(&target).unwrap();
        assert_eq!(written.len(), rows * row.len());
        assert!(written.chunks(row.len()).all(|r| r == row.as_slice()));
        // abandoned while the helper runs: the temporary file goes
        {
            let mut f = AtomicFile::create(&target).unwrap();
            for _ in 0..rows / 2 {
                f.write_all(b"x").unwrap();
                f.write_all(&row).unwrap();
            }
        }
        assert_eq!(std::fs::read(&target).unwrap().len(), rows * row.len(), "the old file is kept");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
