//! The font charts are drawn with: a Chinese font found on the machine and
//! registered with plotters, so that PNG files show Chinese labels.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef};

/// Font files tried in order after `$HHRISK_FONT`. The project's set-up
/// installs the first (Debian's `fonts-wqy-microhei`).
pub const CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/opentype/noto/NotoSansSC-Regular.otf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
];

/// The family name charts ask for; the found font is registered under it.
pub const FAMILY: &str = "sans-serif";

/// Why no font could be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FontError {
    /// No candidate file exists.
    #[error(
        "no Chinese font found for the charts; install one (Debian: apt-get install fonts-wqy-microhei) \
         or set HHRISK_FONT to a .ttf/.otf/.ttc file whose first face covers Chinese"
    )]
    NotFound,
    /// The file could not be used.
    #[error("{path}: {reason}")]
    Unusable {
        /// The font file.
        path: String,
        /// Why.
        reason: String,
    },
}

static REGISTERED: OnceLock<Result<PathBuf, FontError>> = OnceLock::new();

/// Finds a Chinese font and registers it with plotters (once per process).
/// Returns the file used.
pub fn register() -> Result<PathBuf, FontError> {
    REGISTERED
        .get_or_init(|| {
            let from_env = std::env::var_os("HHRISK_FONT").map(PathBuf::from);
            let path = from_env
                .into_iter()
                .chain(CANDIDATES.iter().map(PathBuf::from))
                .find(|p| p.is_file())
                .ok_or(FontError::NotFound)?;
            let bytes = load(&path)?;
            plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, bytes).map_err(
                |_| FontError::Unusable {
                    path: path.display().to_string(),
                    reason: "not a font plotters can read".into(),
                },
            )?;
            Ok(path)
        })
        .clone()
}

/// Reads a font file and checks that its first face has Chinese glyphs.
/// The bytes live for the rest of the process, as plotters requires.
fn load(path: &Path) -> Result<&'static [u8], FontError> {
    let unusable = |reason: String| FontError::Unusable { path: path.display().to_string(), reason };
    let bytes = std::fs::read(path).map_err(|e| unusable(e.to_string()))?;
    let font = FontRef::try_from_slice(&bytes).map_err(|e| unusable(e.to_string()))?;
    if "预警精度".chars().any(|c| font.glyph_id(c).0 == 0) {
        return Err(unusable(
            "its first face has no Chinese glyphs; choose a Simplified Chinese font".into(),
        ));
    }
    Ok(Box::leak(bytes.into_boxed_slice()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_font_found_covers_chinese() {
        // The project's set-up installs fonts-wqy-microhei; without a font
        // the report refuses to draw rather than draw boxes.
        match register() {
            Ok(path) => assert!(path.is_file()),
            Err(FontError::NotFound) => panic!("no Chinese font: run .ci/run's set-up (fonts-wqy-microhei)"),
            Err(e) => panic!("{e}"),
        }
    }
}
