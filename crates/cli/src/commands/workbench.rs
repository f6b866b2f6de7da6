//! `hhrisk workbench`: the browser workbench.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::*;

/// Who may reach the workbench, and where it saves.
pub struct WorkbenchAccess {
    /// Serve beyond this machine (with a token).
    pub allow_remote: bool,
    /// The token to require; a random one with `allow_remote` when `None`.
    pub token: Option<String>,
    /// The folder models are saved into (default: the model's).
    pub save_dir: Option<std::path::PathBuf>,
}

pub fn workbench(
    model_path: &Path,
    samples_dir: &Path,
    addr: std::net::SocketAddr,
    access: WorkbenchAccess,
    objective: &str,
    replicates: usize,
    io: Io,
) -> anyhow::Result<ExitCode> {
    let (model, samples, objective) = load_samples(model_path, samples_dir, objective, io)?;
    let model_text = std::fs::read_to_string(model_path).with_context(|| {
        let path = model_path.display();
        crate::tr!("cannot read {path}", "无法读取 {path}")
    })?;
    let workbench = hhrisk_workbench::Workbench::new(
        model,
        model_path.to_path_buf(),
        model_text,
        samples,
        objective,
        replicates,
    );
    let mut workbench = workbench;
    if let Some(dir) = access.save_dir {
        if !dir.is_dir() {
            let dir = dir.display();
            bail!(crate::tr!("--save-dir {dir}: not a folder", "--save-dir {dir}：不是文件夹"));
        }
        workbench.save_dir = dir;
    }
    let save_dir = workbench.save_dir.display().to_string();
    // 128 random bits (rand's generator, seeded by the operating system)
    let token =
        access.token.or_else(|| access.allow_remote.then(|| format!("{:032x}", rand::random::<u128>())));
    let remote = access.allow_remote;
    let query = token.as_ref().map(|t| format!("?token={t}")).unwrap_or_default();
    hhrisk_workbench::serve(workbench, addr, access.allow_remote, token, |bound| {
        eprintln!(
            "{}",
            crate::tr!(
                "workbench on http://{bound}/{query} (Ctrl-C to stop); models are saved in {save_dir}",
                "工作台已启动（按 Ctrl-C 停止），指标模型保存在 {save_dir}；请在浏览器中打开 http://{bound}/{query}"
            )
        );
        if remote {
            eprintln!(
                "{}",
                crate::tr!(
                    "warning: the workbench is reachable from the network, and its traffic (the sample villages' \
                     figures, the token) is not encrypted; open it only on a network you trust",
                    "警告：工作台可从网络访问，传输的内容（样本村的数据、访问令牌）没有加密；只在可信的网络中打开"
                )
            );
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
