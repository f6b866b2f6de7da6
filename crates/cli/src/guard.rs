//! Checks on a run's files before anything is read: no output may be one
//! of the run's inputs (the same file by device and inode, whatever its
//! name), no two outputs may be one file, and an output that exists must be
//! a regular file.

use std::path::{Path, PathBuf};

use anyhow::bail;

/// A path given for a flag.
pub type Named = (&'static str, PathBuf);

/// The files a roster location holds: the folder's CSV files (the two
/// tables and outcomes), or the workbook itself.
pub fn roster_files(location: &Path) -> Vec<PathBuf> {
    if location.is_dir() {
        ["households.csv", "members.csv", "outcomes.csv"].iter().map(|f| location.join(f)).collect()
    } else {
        vec![location.to_path_buf()]
    }
}

/// The files of every roster under a samples folder (the folder itself
/// when it is a roster, else its sub-folders and workbooks).
pub fn samples_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = roster_files(dir);
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            out.extend(roster_files(&p));
        }
    }
    out
}

/// Every file in a folder (not recursing).
pub fn folder_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

#[cfg(unix)]
fn identity(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// Where a path would be written: its folder made absolute (symbolic
/// links in it resolved) and its name, so that `a/../x` and `x` compare
/// equal even when `x` does not exist yet.
fn place(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match (parent.canonicalize(), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

/// Refuses the run when an output is an input, two outputs are one file,
/// or an output is not a regular file; each message names the flags.
pub fn check(inputs: &[Named], outputs: &[Named]) -> anyhow::Result<()> {
    for (flag, out) in outputs {
        let Ok(meta) = std::fs::metadata(out) else { continue };
        if !meta.is_file() {
            let out = out.display();
            if meta.is_dir() {
                bail!(crate::tr!(
                    "{flag} {out}: is a folder; give the path of a file to write",
                    "{flag} {out}：这是一个文件夹；请给出要写入的文件路径"
                ));
            }
            bail!(crate::tr!(
                "{flag} {out}: is not a regular file (a device, a pipe or a socket); give the path of a file to write",
                "{flag} {out}：不是普通文件（是设备、管道或套接字）；请给出要写入的文件路径"
            ));
        }
        for (in_flag, input) in inputs {
            let same = std::fs::metadata(input).is_ok_and(|m| m.is_file() && identity(&m) == identity(&meta));
            if cfg!(unix) && same {
                let file = if input.as_path() == out.as_path() { "" } else { " file" };
                let (out, input) = (out.display(), input.display());
                bail!(crate::tr!(
                    "{flag} {out} is the same file as the input {in_flag}{file} {input}: writing it would destroy \
                     what the run reads; choose another path",
                    "{flag} {out} 与输入 {in_flag} {input} 是同一个文件：写入会毁掉本次要读的内容；请换一个路径"
                ));
            }
        }
    }
    for (k, (flag_a, a)) in outputs.iter().enumerate() {
        for (flag_b, b) in &outputs[k + 1..] {
            if place(a) == place(b) {
                let a = a.display();
                bail!(crate::tr!(
                    "{flag_a} and {flag_b} are the same file ({a}): two outputs of one run cannot share a path",
                    "{flag_a} 和 {flag_b} 是同一个文件（{a}）：同一次运行的两个输出不能共用一个路径"
                ));
            }
        }
    }
    Ok(())
}

/// Refuses an output folder that holds one of the run's inputs (a
/// dispatch written over a roster).
pub fn check_folder(flag: &'static str, dir: &Path, inputs: &[Named]) -> anyhow::Result<()> {
    if let Ok(meta) = std::fs::metadata(dir) {
        if !meta.is_dir() {
            let dir = dir.display();
            bail!(crate::tr!(
                "{flag} {dir}: is a file; give a folder",
                "{flag} {dir}：这是一个文件；请给出文件夹"
            ));
        }
    }
    let dir_place = place(dir);
    for (in_flag, input) in inputs {
        let folder = input.canonicalize().ok().and_then(|p| p.parent().map(Path::to_path_buf));
        if input.is_file() && folder.as_ref() == Some(&dir_place) {
            let (dir, input) = (dir.display(), input.display());
            bail!(crate::tr!(
                "{flag} {dir} holds the input {in_flag} {input}: files written there could replace it; choose \
                 another folder",
                "{flag} {dir} 中有输入文件 {in_flag} {input}：写到这里的文件可能把它覆盖；请换一个文件夹"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_that_are_inputs_or_each_other_are_refused() {
        crate::lang::set(crate::lang::Lang::En);
        let dir = std::env::temp_dir().join(format!("hhrisk-guard-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let input = dir.join("households.csv");
        std::fs::write(&input, "household_id\n").unwrap();
        let inputs = [("--roster", input.clone())];
        // the same file by another name
        let other_name = dir.join("sub/../households.csv");
        let e = check(&inputs, &[("--out", other_name)]).unwrap_err().to_string();
        assert!(e.contains("is the same file as the input --roster"), "{e}");
        #[cfg(unix)]
        {
            let link = dir.join("link.csv");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&input, &link).unwrap();
            let e = check(&inputs, &[("--rejects", link)]).unwrap_err().to_string();
            assert!(e.starts_with("--rejects"), "{e}");
        }
        // two outputs, one of them not yet there
        let e = check(&[], &[("--out", dir.join("x.csv")), ("--rejects", dir.join("sub/../x.csv"))])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--out and --rejects are the same file"), "{e}");
        // a folder
        let e = check(&[], &[("--out", dir.join("sub"))]).unwrap_err().to_string();
        assert!(e.contains("is a folder"), "{e}");
        #[cfg(unix)]
        {
            let e = check(&[], &[("--out", PathBuf::from("/dev/null"))]).unwrap_err().to_string();
            assert!(e.contains("not a regular file"), "{e}");
        }
        assert!(check(&inputs, &[("--out", dir.join("scores.csv"))]).is_ok());
        let e = check_folder("--out", &dir, &inputs).unwrap_err().to_string();
        assert!(e.contains("holds the input --roster"), "{e}");
        assert!(check_folder("--out", &dir.join("sub"), &inputs).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
