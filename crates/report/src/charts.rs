//! Drawing the charts with plotters, to SVG and PNG from the same code.

use std::io::Write;
use std::path::Path;

use hhrisk_tables::AtomicFile;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::data::{Amount, ChartData};
use crate::font::FAMILY;
use crate::i18n::Lang;

/// Chart size in pixels.
pub const SIZE: (u32, u32) = (960, 540);

const PRECISION: RGBColor = RGBColor(31, 119, 180);
const RECALL: RGBColor = RGBColor(214, 39, 40);
const VOLUME: RGBColor = RGBColor(44, 160, 44);
const MUTED: RGBColor = RGBColor(127, 127, 127);
const ACCENT: RGBColor = RGBColor(255, 127, 14);

/// Draws charts on any plotters backend.
pub trait Chart {
    /// Draws on the area.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError>;
}

/// Why a chart could not be drawn or written.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The drawing library failed (its errors depend on the backend, so
    /// they are kept as their message).
    #[error("{0}")]
    Draw(String),
    /// A drawn file could not be put in place.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

fn fail<E: std::fmt::Display>(e: E) -> ChartError {
    ChartError::Draw(e.to_string())
}

/// Writes `<name>.svg` and `<name>.png` in `dir`: each drawn in memory,
/// then written through [`AtomicFile`], so that a failed run leaves the
/// previous chart in place.
pub fn render(chart: &impl Chart, dir: &Path, name: &str) -> Result<(), ChartError> {
    use image::ImageEncoder;
    let write = |ext: &str, bytes: &[u8]| {
        let path = dir.join(format!("{name}.{ext}"));
        let io = |source| ChartError::Io { path: path.display().to_string(), source };
        let mut file = AtomicFile::create(&path).map_err(io)?;
        file.write_all(bytes).map_err(io)?;
        file.commit().map_err(io)
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        chart.draw(&root)?;
        root.present().map_err(fail)?;
    }
    write("svg", svg.as_bytes())?;
    let mut rgb = vec![0u8; SIZE.0 as usize * SIZE.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        chart.draw(&root)?;
        root.present().map_err(fail)?;
    }
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&rgb, SIZE.0, SIZE.1, image::ColorType::Rgb8)
        .map_err(fail)?;
    write("png", &png)
}

fn percent(v: &f64) -> String {
    format!("{:.0}%", v * 100.0)
}

fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().into()
}

/// Draws the series legend, the same on every chart.
fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> Result<(), ChartError> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(font(13))
        .draw()
        .map_err(fail)
}

/// Reads one curve out of a threshold point.
type Value = fn(&crate::data::ThresholdPoint) -> f64;

/// Precision, recall and volume against the threshold.
pub struct Threshold<'a>(pub &'a ChartData, pub Lang);

impl Chart for Threshold<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let (d, l) = (&self.0.threshold, self.1);
        root.fill(&WHITE).map_err(fail)?;
        let (x0, x1) = match (d.points.first(), d.points.last()) {
            (Some(a), Some(b)) if b.threshold > a.threshold => (a.threshold, b.threshold),
            _ => (0.0, 1.0),
        };
        let mut chart = ChartBuilder::on(root)
            .caption(l.t("threshold"), font(22))
            .margin(18)
            .x_label_area_size(48)
            .y_label_area_size(58)
            .build_cartesian_2d(x0..x1, 0f64..1f64)
            .map_err(fail)?;
        chart
            .configure_mesh()
            .x_desc(l.t("score_threshold"))
            .y_desc(l.t("share"))
            .label_style(font(14))
            .axis_desc_style(font(15))
            .y_label_formatter(&percent)
            .draw()
            .map_err(fail)?;
        let mut band: Vec<(f64, f64)> = d.points.iter().map(|p| (p.threshold, p.precision_hi)).collect();
        band.extend(d.points.iter().rev().map(|p| (p.threshold, p.precision_lo)));
        chart
            .draw_series(std::iter::once(Polygon::new(band, PRECISION.mix(0.18))))
            .map_err(fail)?
            .label(l.t("precision_ci"))
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], PRECISION.mix(0.18).filled()));
        let lines: [(&str, RGBColor, Value); 3] = [
            ("precision", PRECISION, |p| p.precision),
            ("recall", RECALL, |p| p.recall),
            ("alert_share", VOLUME, |p| p.alert_share),
        ];
        for (key, color, value) in lines {
            chart
                .draw_series(LineSeries::new(
                    d.points.iter().map(|p| (p.threshold, value(p))),
                    color.stroke_width(2),
                ))
                .map_err(fail)?
                .label(l.t(key))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        // Fitted bands in black along the top, the default ones in grey
        // below, each label a step lower than the last so that close
        // thresholds stay readable.
        for (markers, color, tag, top) in
            [(&d.fitted, BLACK, l.t("fitted_band"), 0.985), (&d.default, MUTED, l.t("default_band"), 0.89)]
        {
            for (k, m) in markers.iter().filter(|m| m.min >= x0 && m.min <= x1).enumerate() {
                chart
                    .draw_series(LineSeries::new(vec![(m.min, 0.0), (m.min, 1.0)], color.stroke_width(1)))
                    .map_err(fail)?;
                let y = top - 0.035 * k as f64;
                chart
                    .draw_series(std::iter::once(Text::new(
                        format!(" {tag}: {}", m.label),
                        (m.min, y),
                        font(13).color(&color),
                    )))
                    .map_err(fail)?;
            }
        }
        legend(&mut chart, SeriesLabelPosition::MiddleRight)
    }
}

/// Precision–recall curves of the current and tuned points.
pub struct PrCurves<'a>(pub &'a ChartData, pub Lang);

impl Chart for PrCurves<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let (d, l) = (self.0, self.1);
        root.fill(&WHITE).map_err(fail)?;
        let mut chart = ChartBuilder::on(root)
            .caption(l.t("pr_curve"), font(22))
            .margin(18)
            .x_label_area_size(48)
            .y_label_area_size(58)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(fail)?;
        chart
            .configure_mesh()
            .x_desc(l.t("recall"))
            .y_desc(l.t("precision"))
            .label_style(font(14))
            .axis_desc_style(font(15))
            .x_label_formatter(&percent)
            .y_label_formatter(&percent)
            .draw()
            .map_err(fail)?;
        for (curve, color) in d.pr_curves.iter().zip([PRECISION, ACCENT]) {
            chart
                .draw_series(LineSeries::new(curve.points.iter().copied(), color.stroke_width(2)))
                .map_err(fail)?
                .label(l.t(&curve.name))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        let line = d.xiaochang_precision;
        chart
            .draw_series(LineSeries::new(vec![(0.0, line), (1.0, line)], MUTED.stroke_width(1)))
            .map_err(fail)?
            .label(l.t("xiaochang"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], MUTED));
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

/// Score histogram of households in need and not in need.
pub struct Distribution<'a>(pub &'a ChartData, pub Lang);

impl Chart for Distribution<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let (d, l) = (&self.0.distribution, self.1);
        root.fill(&WHITE).map_err(fail)?;
        let (x0, x1) = (d.first().map_or(0.0, |b| b.from), d.last().map_or(1.0, |b| b.to));
        let top = d.iter().map(|b| b.in_need.max(b.not_in_need)).max().unwrap_or(1).max(1) as f64 * 1.1;
        let mut chart = ChartBuilder::on(root)
            .caption(l.t("distribution"), font(22))
            .margin(18)
            .x_label_area_size(48)
            .y_label_area_size(58)
            .build_cartesian_2d(x0..x1, 0f64..top)
            .map_err(fail)?;
        chart
            .configure_mesh()
            .x_desc(l.t("score"))
            .y_desc(l.t("households"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style(font(14))
            .axis_desc_style(font(15))
            .draw()
            .map_err(fail)?;
        for (key, color, left) in [("not_in_need", PRECISION, true), ("in_need", RECALL, false)] {
            chart
                .draw_series(d.iter().map(|b| {
                    let mid = (b.from + b.to) / 2.0;
                    let (a, z) = if left { (b.from, mid) } else { (mid, b.to) };
                    let n = if left { b.not_in_need } else { b.in_need } as f64;
                    Rectangle::new([(a, 0.0), (z, n)], color.mix(0.8).filled())
                }))
                .map_err(fail)?
                .label(l.t(key))
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], color.mix(0.8).filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

/// Held-out precision per village, with intervals, against 59 %.
pub struct Villages<'a>(pub &'a ChartData, pub Lang);

impl Chart for Villages<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        let (d, l) = (self.0, self.1);
        root.fill(&WHITE).map_err(fail)?;
        let n = d.villages.len().max(1);
        let names: Vec<String> = d.villages.iter().map(|v| v.village.clone()).collect();
        let label = move |x: &f64| category_label(&names, *x);
        let mut chart = ChartBuilder::on(root)
            .caption(l.t("villages"), font(22))
            .margin(18)
            .x_label_area_size(48)
            .y_label_area_size(58)
            .build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0f64..1f64)
            .map_err(fail)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&label)
            .y_desc(l.t("precision"))
            .label_style(font(15))
            .axis_desc_style(font(15))
            .y_label_formatter(&percent)
            .draw()
            .map_err(fail)?;
        chart
            .draw_series(d.villages.iter().enumerate().filter_map(|(i, v)| {
                let x = i as f64;
                Some(Rectangle::new([(x - 0.3, 0.0), (x + 0.3, v.held_out?)], PRECISION.mix(0.75).filled()))
            }))
            .map_err(fail)?
            .label(l.t("held_out"))
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], PRECISION.mix(0.75).filled()));
        chart
            .draw_series(
                d.villages
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| {
                        let x = i as f64;
                        let (lo, hi) = (v.held_out_lo?, v.held_out_hi?);
                        Some([
                            ((x, lo), (x, hi)),
                            ((x - 0.08, lo), (x + 0.08, lo)),
                            ((x - 0.08, hi), (x + 0.08, hi)),
                        ])
                    })
                    .flatten()
                    .map(|(a, b)| PathElement::new(vec![a, b], BLACK.stroke_width(2))),
            )
            .map_err(fail)?;
        chart
            .draw_series(
                d.villages
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| Some(Circle::new((i as f64, v.default?), 6, ACCENT.filled()))),
            )
            .map_err(fail)?
            .label(l.t("default_bands"))
            .legend(|(x, y)| Circle::new((x + 10, y), 5, ACCENT.filled()));
        let line = d.xiaochang_precision;
        chart
            .draw_series(LineSeries::new(vec![(-0.5, line), (n as f64 - 0.5, line)], RECALL.stroke_width(2)))
            .map_err(fail)?
            .label(l.t("xiaochang"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RECALL.stroke_width(2)));
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

/// The label of a category axis position: the name at a whole number,
/// nothing between.
fn category_label(names: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
        names[i as usize].clone()
    } else {
        String::new()
    }
}

/// Horizontal bars: one row per amount, alerted and not alerted side by
/// side.
pub struct Bars<'a> {
    /// Chart title.
    pub title: &'a str,
    /// Axis description.
    pub x_desc: &'a str,
    /// The rows, top first.
    pub rows: &'a [Amount],
    /// Legend of the two series.
    pub series: [&'a str; 2],
    /// Width of the label column in pixels.
    pub label_width: u32,
    /// Whether the amounts are whole numbers (counts).
    pub whole: bool,
}

impl Chart for Bars<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError> {
        root.fill(&WHITE).map_err(fail)?;
        let n = self.rows.len().max(1);
        let values = self.rows.iter().flat_map(|r| [r.alerted, r.not_alerted]);
        let (lo, hi) = values.fold((0f64, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let pad = (hi - lo).max(1e-9) * 0.08;
        // the first row at the top
        let names: Vec<String> = self.rows.iter().rev().map(|r| r.label.clone()).collect();
        let label = move |y: &f64| category_label(&names, *y);
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, font(22))
            .margin(18)
            .x_label_area_size(48)
            .y_label_area_size(self.label_width)
            .build_cartesian_2d((lo - if lo < 0.0 { pad } else { 0.0 })..(hi + pad), -0.5f64..n as f64 - 0.5)
            .map_err(fail)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&label)
            .x_desc(self.x_desc)
            .x_label_formatter(&|v| if self.whole { format!("{v:.0}") } else { format!("{v:.1}") })
            .label_style(font(14))
            .axis_desc_style(font(15))
            .draw()
            .map_err(fail)?;
        for (k, color) in [(0, ACCENT), (1, PRECISION)] {
            chart
                .draw_series(self.rows.iter().enumerate().map(|(i, r)| {
                    let y = (n - 1 - i) as f64;
                    let v = if k == 0 { r.alerted } else { r.not_alerted };
                    let (a, b) = if k == 0 { (y, y + 0.38) } else { (y - 0.38, y) };
                    Rectangle::new([(0.0, a), (v, b)], color.mix(0.8).filled())
                }))
                .map_err(fail)?
                .label(self.series[k])
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], color.mix(0.8).filled()));
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_labels_sit_on_whole_numbers() {
        let names = vec!["a".to_string(), "b".to_string()];
        assert_eq!(category_label(&names, 1.0), "b");
        assert_eq!(category_label(&names, 0.5), "");
        assert_eq!(category_label(&names, 2.0), "");
        assert_eq!(category_label(&names, -1.0), "");
    }
}
