//! What `calibrate` and `fit` print: their results as text for a terminal.

use hhrisk_score::output::format_number;

/// What `fit` prints: the fitted points, the held-out comparison and the
/// bands.
pub fn fit_text(
    card: &crate::scorecard::Scorecard,
    bands: &crate::Calibration,
    samples: &crate::Samples,
) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let f3 = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.3}"));
    let _ = writeln!(
        s,
        "fitted on {} households in {} villages; normalise = {} ({}); C = {} (chosen by leave-one-village-out)",
        samples.len(),
        samples.villages.len(),
        card.normalise,
        match card.normalise_chosen_by {
            "auto" => "chosen: it ranks best on villages left out",
            "auto (the model states none)" => {
                "the model states none ([scoring] normalise), so the one that ranks best on villages left out"
            }
            "model" => "the model's",
            _ => "as asked",
        },
        card.penalty.c
    );
    if card.candidates.len() > 1 {
        let _ = writeln!(s, "\nnormalisations tried (held out, fitted points):");
        for c in &card.candidates {
            let _ = writeln!(
                s,
                "  {:<13} average precision {}   AUC {}{}",
                c.normalise.name(),
                f3(c.average_precision),
                f3(c.auc),
                if c.normalise == card.normalise { "   ← chosen" } else { "" }
            );
        }
    }
    let h = &card.held_out;
    let _ = writeln!(s, "\nheld out (each village scored by points fitted without it):");
    let _ = writeln!(s, "                     current   fitted   (before rounding)");
    for (name, p) in [("average precision", h.average_precision), ("AUC", h.auc)] {
        let _ = writeln!(
            s,
            "  {:<18} {:>7}  {:>7}   ({})",
            name,
            f3(p.current),
            f3(p.fitted),
            f3(p.fitted_unrounded)
        );
    }
    let t = &h.paired_test;
    let _ = writeln!(
        s,
        "  at the current model's alert volume ({} alerts): precision {} → {}; difference {:+.1} points {} \
         (village bootstrap), McNemar p = {:.3} ({} households in need found only by the current points, {} only by the fitted)",
        h.at_current_volume.current.alerts,
        percent(h.at_current_volume.current.precision),
        percent(h.at_current_volume.tuned.precision),
        100.0 * t.precision_difference,
        interval(t.difference_ci),
        t.p_value,
        t.current_only,
        t.tuned_only
    );
    let dropped: Vec<&str> = card.items.iter().filter(|i| i.dropped).map(|i| i.item.as_str()).collect();
    let changed = card.items.iter().filter(|i| i.constraint != "off" && i.points != i.current_points).count();
    let _ = writeln!(
        s,
        "\nitems: {} with new points, {} switched off (points fell to 0){}{}",
        changed,
        dropped.len(),
        if dropped.is_empty() { "" } else { ": " },
        dropped.join(", ")
    );
    let sizes = &h.by_household_size;
    let _ = writeln!(s, "\nheld-out alerts by household size (current → fitted):");
    for (c, f) in sizes.current.iter().zip(&sizes.fitted) {
        let _ = writeln!(
            s,
            "  {:<4} members: need rate {:>7}   alert rate {:>7} → {:>7}   precision {:>7} → {:>7}",
            c.group,
            percent(c.need_rate),
            percent(c.alert_rate),
            percent(f.alert_rate),
            percent(c.precision),
            percent(f.precision)
        );
    }
    let _ = writeln!(s, "\nbands of the fitted model:");
    for b in &bands.band_figures {
        let _ = writeln!(
            s,
            "  {} {:>8}  {:>5} households  precision {} {}",
            pad(&b.level, 8),
            format!("≥ {}", format_number(b.min_score)),
            b.households,
            percent(b.precision),
            interval(b.precision_ci)
        );
    }
    s
}

/// The table by household size, as text (empty for no table).
pub fn size_section(groups: &[crate::household_size::SizeGroup]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    if groups.is_empty() {
        return s;
    }
    let _ = writeln!(s, "\nby household size:");
    let _ = writeln!(s, "  members  households  in need   alerts  alert rate  need rate  precision   recall");
    for g in groups {
        let _ = writeln!(
            s,
            "  {:<7} {:>11} {:>8} {:>8} {:>11} {:>10} {:>10} {:>8}",
            g.group,
            g.households,
            g.in_need,
            g.alerts,
            percent(g.alert_rate),
            percent(g.need_rate),
            percent(g.precision),
            percent(g.recall)
        );
    }
    s
}

/// Pads to a display width, counting CJK characters as two columns.
pub fn pad(text: &str, width: usize) -> String {
    let shown: usize = text.chars().map(|c| if c >= '\u{1100}' { 2 } else { 1 }).sum();
    format!("{text}{}", " ".repeat(width.saturating_sub(shown)))
}

/// A share as a percentage with one decimal, `–` when there is none.
pub fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_string(), |x| format!("{:.1} %", 100.0 * x))
}

/// An interval as percentages, `[lo, hi]`; empty when there is none.
pub fn interval(i: Option<crate::intervals::Interval>) -> String {
    i.map_or_else(String::new, |i| format!("[{:.1}, {:.1}]", 100.0 * i.lo, 100.0 * i.hi))
}

/// What `calibrate` prints: the bands, their precision and recall held
/// out, and the comparisons.
pub fn calibration_text(r: &crate::Calibration, samples: &crate::Samples) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "{} households with outcomes in {} villages", samples.len(), samples.villages.len());
    if samples.unverified > 0 {
        let _ = writeln!(s, "({} households without an outcome left out)", samples.unverified);
    }
    if samples.selected > 0 {
        let _ = writeln!(
            s,
            "note: the outcomes say households were verified because they were alerted or audited (selected_by): \
             the verified ones are no fair sample of all, so the recall below is not the recall over every \
             household and the bands are fitted on a biased sample; for recall weighted by the audit, score the \
             villages and run `hhrisk evaluate`"
        );
    }
    let _ = writeln!(s, "\nfitted bands (score, normalise = {}):", r.normalise);
    for b in &r.band_figures {
        let _ = writeln!(
            s,
            "  {:<8} ≥ {:>8.3}   {:>5} households, {:>5} in need: precision {} {}",
            b.level,
            b.min_score,
            b.households,
            b.in_need,
            percent(b.precision),
            interval(b.precision_ci)
        );
    }
    let line = |s: &mut String, name: &str, a: &crate::metrics::Accuracy| {
        let _ = writeln!(
            s,
            "  {} precision {:>7} {:<14} recall {:>7} {:<14} alerts {}",
            pad(name, 30),
            percent(a.precision),
            interval(a.precision_ci.bootstrap.or(a.precision_ci.wilson)),
            percent(a.recall),
            interval(a.recall_ci.bootstrap.or(a.recall_ci.wilson)),
            a.alerts
        );
    };
    let _ = writeln!(s, "\naccuracy (95 % intervals: bootstrap over villages and households):");
    line(&mut s, "default bands of the model", &r.baseline.in_sample);
    line(&mut s, "fitted bands, in sample", &r.in_sample);
    line(&mut s, "fitted, leave-one-village-out", &r.leave_one_village_out.accuracy);
    let _ = writeln!(s, "\nleave-one-village-out, each village measured with bands fitted on the others:");
    for f in &r.leave_one_village_out.folds {
        line(&mut s, &f.village, &f.accuracy);
    }
    s.push_str(&size_section(&r.by_household_size));
    if let Some(t) = &r.tuned {
        let _ = writeln!(
            s,
            "\ntuned points (tuned.toml is fitted on all {} sample villages: its in-sample rows are optimistic; the \
             leave-one-village-out rows tune without each village and measure on it), at the same alert volume as \
             the current points:",
            samples.villages.len()
        );
        line(&mut s, "current, in sample", &t.in_sample.current);
        line(&mut s, "tuned, in sample (optimistic)", &t.in_sample.tuned);
        line(&mut s, "current, leave-one-village-out", &t.leave_one_village_out.current);
        line(&mut s, "tuned, leave-one-village-out", &t.leave_one_village_out.tuned);
        let p = &t.paired_test;
        let _ = writeln!(
            s,
            "  paired test (McNemar, exact): {} households in need found only by the tuned points, {} only by the current; p = {:.3}; precision difference {:+.1} points {}",
            p.tuned_only,
            p.current_only,
            p.p_value,
            100.0 * p.precision_difference,
            interval(p.difference_ci)
        );
        let r = &t.held_out_ranking;
        let f3 = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.3}"));
        let _ = writeln!(
            s,
            "  held out, each village ranked by points tuned without it: average precision {} → {}, AUC {} → {}",
            f3(r.average_precision_current),
            f3(r.average_precision_tuned),
            f3(r.auc_current),
            f3(r.auc_tuned)
        );
        let changed: Vec<String> = t
            .points
            .iter()
            .filter(|p| p.suggested != p.current)
            .map(|p| format!("{} {}→{}", p.item, format_number(p.current), format_number(p.suggested)))
            .collect();
        let _ = writeln!(s, "  {} items change: {}", changed.len(), changed.join(", "));
        let _ = writeln!(
            s,
            "  (--tune keeps each item on its sign and within --max-change of its points; `hhrisk fit` learns points \
             without that cage, with the penalty chosen on villages left out)"
        );
    }
    s
}

/// Columns a text takes in a terminal, counting CJK characters as two (as
/// [`pad`] does).
fn width(text: &str) -> usize {
    text.chars().map(|c| if c >= '\u{1100}' { 2 } else { 1 }).sum()
}

/// Right-aligns to a display width, counting CJK characters as two.
fn pad_left(text: &str, columns: usize) -> String {
    format!("{}{text}", " ".repeat(columns.saturating_sub(width(text))))
}

/// [`size_section`] in Chinese.
pub fn size_section_zh(groups: &[crate::household_size::SizeGroup]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    if groups.is_empty() {
        return s;
    }
    // (label, width of the column)
    const COLUMNS: [(&str, usize); 8] = [
        ("人数", 6),
        ("户数", 8),
        ("核实有需要", 11),
        ("预警", 8),
        ("预警率", 9),
        ("需要帮扶比例", 13),
        ("精确率", 9),
        ("召回率", 9),
    ];
    let _ = writeln!(s, "\n按家庭人口：");
    let header: Vec<String> = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, (label, w))| if i == 0 { pad(label, *w) } else { pad_left(label, *w) })
        .collect();
    let _ = writeln!(s, "  {}", header.join(" "));
    for g in groups {
        let cells = [
            format!("{:<6}", g.group),
            format!("{:>8}", g.households),
            format!("{:>11}", g.in_need),
            format!("{:>8}", g.alerts),
            format!("{:>9}", percent(g.alert_rate)),
            format!("{:>13}", percent(g.need_rate)),
            format!("{:>9}", percent(g.precision)),
            format!("{:>9}", percent(g.recall)),
        ];
        let _ = writeln!(s, "  {}", cells.join(" "));
    }
    s
}

/// [`calibration_text`] in Chinese.
pub fn calibration_text_zh(r: &crate::Calibration, samples: &crate::Samples) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "{} 个样本村共 {} 户有核查结果", samples.villages.len(), samples.len());
    if samples.unverified > 0 {
        let _ = writeln!(s, "（另有 {} 户没有核查结果，未计入）", samples.unverified);
    }
    if samples.selected > 0 {
        let _ = writeln!(
            s,
            "提示：核查结果（selected_by）表明，这些户是因为被预警或被抽查才经过核查的：已核查的户不能代表全部户，\
             所以下面的召回率不是全部户的召回率，预警区间也是在有偏的样本上校准的；如需按抽查加权的召回率，\
             请先对各村评分，再运行 `hhrisk evaluate`"
        );
    }
    let _ = writeln!(s, "\n校准后的预警区间（分数，标准化方式 = {}）：", r.normalise);
    for b in &r.band_figures {
        let _ = writeln!(
            s,
            "  {:<8} ≥ {:>8.3}   {:>5} 户，其中核实有需要 {:>5} 户：精确率 {} {}",
            b.level,
            b.min_score,
            b.households,
            b.in_need,
            percent(b.precision),
            interval(b.precision_ci)
        );
    }
    let line = |s: &mut String, name: &str, a: &crate::metrics::Accuracy| {
        let _ = writeln!(
            s,
            "  {} 精确率 {:>7} {:<14} 召回率 {:>7} {:<14} 预警 {} 户",
            pad(name, 30),
            percent(a.precision),
            interval(a.precision_ci.bootstrap.or(a.precision_ci.wilson)),
            percent(a.recall),
            interval(a.recall_ci.bootstrap.or(a.recall_ci.wilson)),
            a.alerts
        );
    };
    let _ = writeln!(s, "\n准确性（95 % 置信区间：自助法，按村、按户两级重抽样）：");
    line(&mut s, "模型默认的预警区间", &r.baseline.in_sample);
    line(&mut s, "校准后的区间，样本内", &r.in_sample);
    line(&mut s, "校准后的区间，留一村交叉验证", &r.leave_one_village_out.accuracy);
    let _ = writeln!(s, "\n留一村交叉验证，每个村用其余各村校准出的预警区间衡量：");
    for f in &r.leave_one_village_out.folds {
        line(&mut s, &f.village, &f.accuracy);
    }
    s.push_str(&size_section_zh(&r.by_household_size));
    if let Some(t) = &r.tuned {
        let _ = writeln!(
            s,
            "\n调整后的分值（tuned.toml 是在全部 {} 个样本村上拟合的，其样本内各行偏乐观；留一村交叉验证各行\
             是在不含该村的数据上调整、再在该村上衡量），与现行分值按相同的预警户数比较：",
            samples.villages.len()
        );
        line(&mut s, "现行分值，样本内", &t.in_sample.current);
        line(&mut s, "调整后分值，样本内（偏乐观）", &t.in_sample.tuned);
        line(&mut s, "现行分值，留一村交叉验证", &t.leave_one_village_out.current);
        line(&mut s, "调整后分值，留一村交叉验证", &t.leave_one_village_out.tuned);
        let p = &t.paired_test;
        let _ = writeln!(
            s,
            "  配对检验：核实有需要的户中，只有调整后分值找出的 {} 户，只有现行分值找出的 {} 户；\
             McNemar 检验 p 值 = {:.3}（精确检验）；精确率之差（调整后减现行）{:+.1} 个百分点 {}",
            p.tuned_only,
            p.current_only,
            p.p_value,
            100.0 * p.precision_difference,
            interval(p.difference_ci)
        );
        let r = &t.held_out_ranking;
        let f3 = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.3}"));
        let _ = writeln!(
            s,
            "  留一村交叉验证，每个村按不含该村调整出的分值排序：平均精确率 {} → {}，AUC {} → {}",
            f3(r.average_precision_current),
            f3(r.average_precision_tuned),
            f3(r.auc_current),
            f3(r.auc_tuned)
        );
        let changed: Vec<String> = t
            .points
            .iter()
            .filter(|p| p.suggested != p.current)
            .map(|p| format!("{} {}→{}", p.item, format_number(p.current), format_number(p.suggested)))
            .collect();
        let _ = writeln!(s, "  {} 个指标项的分值有变动：{}", changed.len(), changed.join("、"));
        let _ = writeln!(
            s,
            "  （--tune 让每个指标项保持原来的正负号，变动不超过其分值的 --max-change；`hhrisk fit` 则不受此限制，\
             重新学习分值，惩罚强度由留一村交叉验证选定）"
        );
    }
    s
}

/// [`fit_text`] in Chinese.
pub fn fit_text_zh(
    card: &crate::scorecard::Scorecard,
    bands: &crate::Calibration,
    samples: &crate::Samples,
) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let f3 = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.3}"));
    let _ = writeln!(
        s,
        "在 {} 个样本村的 {} 户上拟合；标准化方式 = {}（{}）；惩罚强度 C = {}（由留一村交叉验证选定）",
        samples.villages.len(),
        samples.len(),
        card.normalise,
        match card.normalise_chosen_by {
            "auto" => "自动选择：在留出的村上排序最好",
            "auto (the model states none)" => {
                "指标模型的 [scoring] normalise 没有指定，因此选用在留出的村上排序最好的一种"
            }
            "model" => "指标模型指定",
            _ => "按 --normalise 指定",
        },
        card.penalty.c
    );
    if card.candidates.len() > 1 {
        let _ = writeln!(s, "\n试过的标准化方式（留一村交叉验证，拟合后的分值）：");
        for c in &card.candidates {
            let _ = writeln!(
                s,
                "  {:<13} 平均精确率 {}   AUC {}{}",
                c.normalise.name(),
                f3(c.average_precision),
                f3(c.auc),
                if c.normalise == card.normalise { "   ← 选用" } else { "" }
            );
        }
    }
    let h = &card.held_out;
    let _ = writeln!(s, "\n留一村交叉验证（每个村用不含该村拟合出的分值评分）：");
    let _ = writeln!(
        s,
        "  {} {}  {}   （取整前）",
        pad("", 18),
        pad_left("现行分值", 9),
        pad_left("拟合分值", 9)
    );
    for (name, p) in [("平均精确率", h.average_precision), ("AUC", h.auc)] {
        let _ = writeln!(
            s,
            "  {} {:>9}  {:>9}   （{}）",
            pad(name, 18),
            f3(p.current),
            f3(p.fitted),
            f3(p.fitted_unrounded)
        );
    }
    let t = &h.paired_test;
    let _ = writeln!(
        s,
        "  按现行模型的预警户数（{} 户）：精确率 {} → {}；相差 {:+.1} 个百分点，置信区间 {}（自助法，按村重抽样）；\
         McNemar 检验 p 值 = {:.3}（核实有需要的户中，只有现行分值找出的 {} 户，只有拟合分值找出的 {} 户）",
        h.at_current_volume.current.alerts,
        percent(h.at_current_volume.current.precision),
        percent(h.at_current_volume.tuned.precision),
        100.0 * t.precision_difference,
        interval(t.difference_ci),
        t.p_value,
        t.current_only,
        t.tuned_only
    );
    let dropped: Vec<&str> = card.items.iter().filter(|i| i.dropped).map(|i| i.item.as_str()).collect();
    let changed = card.items.iter().filter(|i| i.constraint != "off" && i.points != i.current_points).count();
    let _ = writeln!(
        s,
        "\n指标项：{} 项分值有变动，{} 项停用（分值降为 0）{}{}",
        changed,
        dropped.len(),
        if dropped.is_empty() { "" } else { "：" },
        dropped.join("、")
    );
    let sizes = &h.by_household_size;
    let _ = writeln!(s, "\n按家庭人口的预警（留一村交叉验证，现行 → 拟合）：");
    for (c, f) in sizes.current.iter().zip(&sizes.fitted) {
        let _ = writeln!(
            s,
            "  {:>3} 人：需要帮扶比例 {:>7}   预警率 {:>7} → {:>7}   精确率 {:>7} → {:>7}",
            c.group,
            percent(c.need_rate),
            percent(c.alert_rate),
            percent(f.alert_rate),
            percent(c.precision),
            percent(f.precision)
        );
    }
    let _ = writeln!(s, "\n拟合后模型的预警区间：");
    for b in &bands.band_figures {
        let _ = writeln!(
            s,
            "  {} {:>8}  {:>5} 户  精确率 {} {}",
            pad(&b.level, 8),
            format!("≥ {}", format_number(b.min_score)),
            b.households,
            percent(b.precision),
            interval(b.precision_ci)
        );
    }
    s
}
