//! Chinese help: the about line of every command and the help of every
//! argument, looked up by key (see `lang::localise`).

/// (key, Chinese text). Keys: `hhrisk` is the program's about line;
/// `score` a command's about; `cases show` a nested command's about;
/// `score --out` an option of one command (by its long name);
/// `cases show household_id` a positional argument (by its id);
/// `* --model` an option's text for every command that has no entry of
/// its own.
pub const HELP_ZH: &[(&str, &str)] = &[
    (
        "hhrisk",
        "hhrisk：按指标模型为名册中的各户评分，校准并评估预警，向各部门派单，并管理案件台账（低收入人口监测预警）",
    ),
    // options of every command
    (
        "* --encoding",
        "输入 CSV 文件的文本编码：auto（UTF-8；文件不是 UTF-8 时按 GBK/GB18030 读取）、utf-8、gbk 或 gb18030",
    ),
    ("* --bom", "输出的 CSV 文件以 UTF-8 字节顺序标记（BOM）开头，使 Excel 打开时文字显示正确：这是默认做法（保留此选项，供已写明它的脚本使用）"),
    ("* --no-bom", "输出的 CSV 文件不带字节顺序标记（BOM），供不认 BOM 的程序读取"),
    ("* --lang", "界面语言：zh（中文，默认）或 en（英文）；未给出时取 HHRISK_LANG 或 LANG 环境变量"),
    ("* --model", "指标模型（TOML 文件）"),
    // validate
    ("validate", "检查指标模型；如给出名册，再按指标模型所需的列检查名册"),
    ("validate --roster", "名册文件夹（households.csv、members.csv）"),
    ("validate --json", "输出一个 JSON 对象，而不是文本"),
    (
        "validate --threads",
        "工作线程数，各线程轮流读取、检查（并评分）一批批户（0：每个处理器核心一个线程）。无论线程数多少，输出都逐字节相同",
    ),
    ("validate --unmasked", "在提示信息和拒收行文件中显示未脱敏的人员编号（person_id）"),
    // score
    ("score", "为名册中的每一户评分；每户输出一行"),
    ("score --roster", "名册文件夹（households.csv、members.csv）"),
    ("score --out", "评分结果写入的文件（CSV）"),
    (
        "score --thresholds",
        "使用此文件中的预警区间，代替指标模型的默认预警区间（含 `[bands]` 表的 TOML 文件）",
    ),
    (
        "score --rejects",
        "把被拒收的行连同拒收原因写入此文件，其余各户照常评分。不给此选项时，只要有一行被拒收，运行即停止",
    ),
    ("score --top", "`top_items` 列中列出的指标项个数"),
    ("score --item-columns", "为每个指标项加一列 `item_<id>`：该项计入的次数"),
    (
        "score --skip-duplicate-check",
        "不在内存中保留全部编号来查找文件中任意位置的重复（用于全国规模的名册：内存占用因此不再随户数增长）",
    ),
    (
        "score --threads",
        "工作线程数，各线程轮流读取、检查（并评分）一批批户（0：每个处理器核心一个线程）。无论线程数多少，输出都逐字节相同",
    ),
    ("score --unmasked", "在提示信息和拒收行文件中显示未脱敏的人员编号（person_id）"),
    (
        "score --timings",
        "在 stderr 上打印本次运行的时间花在哪些环节：加载指标模型、处理各户（读取、检查、评分、写出）、同步写盘",
    ),
    // explain
    ("explain", "逐项说明某户为什么得到这个分值"),
    ("explain --roster", "名册文件夹"),
    ("explain --household", "该户的 `household_id`"),
    ("explain --thresholds", "使用此文件中的预警区间，代替指标模型的默认预警区间"),
    ("explain --json", "输出一个 JSON 对象，而不是文本"),
    ("explain --unmasked", "显示未脱敏的人员编号"),
    // calibrate
    ("calibrate", "根据样本村的核查结果拟合预警区间"),
    (
        "calibrate --samples",
        "样本村：一个名册文件夹，或由多个名册文件夹组成的文件夹，每个名册都带 outcomes.csv",
    ),
    ("calibrate --out", "写入 thresholds.toml 和 calibration.json 的文件夹"),
    (
        "calibrate --objective",
        "预警区间须达到的目标：recall-at-precision=P、recall-at-precision-lower=P（精确率 95% 置信区间的下限须达到 P）、precision-at-recall=R、budget=SHARE 或 budget=HOUSEHOLDS、f-beta=B",
    ),
    ("calibrate --replicates", "计算置信区间所用的自助法（bootstrap）重复抽样次数"),
    ("calibrate --seed", "自助法（bootstrap）的随机种子"),
    ("calibrate --bands", "要拟合的预警区间名称，按严重程度从高到低排列（默认：指标模型中的预警区间）"),
    ("calibrate --json", "输出一个 JSON 对象（即 calibration.json），而不是摘要"),
    (
        "calibrate --tune",
        "另外用各指标项做逻辑回归，给出建议分值，与现行分值比较，并写出 tuned.toml",
    ),
    ("calibrate --max-change", "与 --tune 同用：指标项分值的最大相对变化幅度"),
    (
        "calibrate --size-warning-factor",
        "按家庭人口分组：某组的预警率超过其需救助率（核实有救助需要的户所占比例）的这一倍数（或低于其倒数倍）时发出警告",
    ),
    (
        "calibrate --ledger",
        "从此案件台账中已核实的反馈取得核查结果，代替各村的 outcomes.csv（此时只有被预警且已有反馈的户才作为样本，输出中会注明这一点）",
    ),
    // fit
    (
        "fit",
        "按样本村的核查结果拟合指标项分值：写出一个完整的指标模型，其整数分值由按类别（有需要/无需要）加权、带惩罚项的逻辑回归学得（惩罚强度由留一村交叉验证选定），并重新拟合其预警区间；同时在它旁边写出 NEW.fit.json，其中每个数字都是在未参与分值拟合的村上测得的",
    ),
    ("fit --model", "要拟合其指标项分值的指标模型（TOML 文件）"),
    (
        "fit --samples",
        "样本村：一个名册文件夹，或由多个名册文件夹组成的文件夹，每个名册都带 outcomes.csv",
    ),
    ("fit --out", "要写出的指标模型（NEW.toml）；NEW.fit.json 写在它旁边"),
    ("fit --max-points", "拟合所得指标项分值的最大绝对值"),
    (
        "fit --free-signs",
        "由数据决定每个指标项分值的正负号（默认情况下，指标项保持作者设定的正负号，分值可降为 0）",
    ),
    (
        "fit --normalise",
        "分值标准化方式：per_capita、total、sqrt_members、equivalence 或 auto（在留出的村上排序效果最好的一种）；默认：指标模型 `[scoring] normalise` 中写明的方式，未写明时为 auto",
    ),
    (
        "fit --objective",
        "预警区间须达到的目标：recall-at-precision=P、recall-at-precision-lower=P（精确率 95% 置信区间的下限须达到 P）、precision-at-recall=R、budget=SHARE 或 budget=HOUSEHOLDS、f-beta=B",
    ),
    ("fit --replicates", "计算置信区间所用的自助法（bootstrap）重复抽样次数"),
    ("fit --seed", "自助法（bootstrap）的随机种子"),
    ("fit --json", "输出 NEW.fit.json 的内容，而不是摘要"),
    (
        "fit --size-warning-factor",
        "按家庭人口分组：某组的预警率超过其需救助率（核实有救助需要的户所占比例）的这一倍数（或低于其倒数倍）时发出警告",
    ),
    // evaluate
    ("evaluate", "衡量预警的准确性：依据评分文件和核查结果，或仅依据公布的数字"),
    ("evaluate --scores", "由 `hhrisk score` 写出的评分文件（有预警级别的行即为预警）"),
    ("evaluate --outcomes", "outcomes.csv，或含有它的名册文件夹"),
    (
        "evaluate --roster",
        "名册，用于按家庭类型分项统计（默认：核查结果所在的文件夹是名册时即用它）",
    ),
    ("evaluate --model", "指标模型，用于按责任部门分项统计（须同时给出名册）"),
    ("evaluate --alerts", "公布的预警数"),
    ("evaluate --verified", "公布的经核实为准确的预警数"),
    ("evaluate --json", "输出一个 JSON 对象，而不是表格"),
    (
        "evaluate --size-warning-factor",
        "按家庭人口分组：某组的预警率超过其需救助率（核实有救助需要的户所占比例）的这一倍数（或低于其倒数倍）时发出警告",
    ),
    ("evaluate --ledger", "评估案件台账中记录的预警和反馈随时间的变化"),
    (
        "evaluate --by",
        "与 --ledger 同用：按 batch（批次）、quarter（季度）、department（部门）或 village（村）分组",
    ),
    // report
    ("report", "生成样本村校准情况的报告（HTML 页面、图表、摘要）"),
    ("report --samples", "带核查结果的样本村（同 calibrate）"),
    ("report --out", "写入 index.html、summary.md、report.json 和各图表的文件夹"),
        (
        "report --objective",
        "预警区间须达到的目标：recall-at-precision=P、recall-at-precision-lower=P（精确率 95% 置信区间的下限须达到 P）、precision-at-recall=R、budget=SHARE 或 budget=HOUSEHOLDS、f-beta=B",
    ),
    ("report --replicates", "计算置信区间所用的自助法（bootstrap）重复抽样次数"),
    ("report --seed", "自助法（bootstrap）的随机种子"),
    // dispatch
    (
        "dispatch",
        "按责任部门为预警户各写一份派单清单，并写出每户的部门链（派单）",
    ),
    ("dispatch --scores", "由 `hhrisk score` 写出的评分文件（有预警级别的行即为预警）"),
    ("dispatch --roster", "评分所依据的名册（文件夹或工作簿）"),
    ("dispatch --out", "写入各派单清单的文件夹"),
    ("dispatch --format", "csv 或 xlsx"),
    ("dispatch --batch", "本批预警的名称（写入 dispatch.json，供 feedback 使用）"),
    ("dispatch --unmasked", "写出完整的身份证号和姓名；文件的每一行都会注明这一点"),
    (
        "dispatch --ledger",
        "把本批派单（dispatch）或反馈（feedback）记入此案件台账（不存在时新建）；已有在办案件的户不再重复派单",
    ),
    (
        "dispatch --due-days",
        "部门答复的期限天数（默认 15；指标模型中为某部门设定的 `due_days` 优先）",
    ),
    ("dispatch --date", "本批派单或反馈的日期（默认：今天）"),
    // feedback
    ("feedback", "把各部门的反馈合并到 outcomes.csv（反馈）"),
    ("feedback --dispatch", "`hhrisk dispatch` 写出的文件夹"),
    (
        "feedback --returns",
        "各部门交回的反馈表（CSV 或工作簿）：household_id、verified_need，以及可选的 assistance 和 department",
    ),
    ("feedback --out", "核查结果写入的文件（格式同名册中的 outcomes.csv）"),
    ("feedback --batch", "批次名称（默认：派单时的批次名称）"),
    ("feedback --json", "以一个 JSON 对象输出发现的问题"),
    (
        "feedback --ledger",
        "把本批派单（dispatch）或反馈（feedback）记入此案件台账（不存在时新建）；已有在办案件的户不再重复派单",
    ),
    (
        "feedback --due-days",
        "部门答复的期限天数（默认 15；指标模型中为某部门设定的 `due_days` 优先）",
    ),
    ("feedback --date", "本批派单或反馈的日期（默认：今天）"),
    // cases
    (
        "cases",
        "台账中的案件（台账）：按条件筛选的在办案件、超期清单、某户的救助链、手工办结案件",
    ),
    ("cases --ledger", "台账文件"),
    ("cases --department", "只列派给此部门的案件"),
    ("cases --village", "只列此村的案件"),
    ("cases --batch", "只列在此批次中预警的案件"),
    ("cases --kind", "只列有此类预警的案件（risk、not_enrolled、check_means）"),
    ("cases --overdue", "只列派单已超过办理期限的案件，超期最久的排在最前"),
    ("cases --all", "已办结的案件也列出"),
    ("cases --as-of", "计算超期天数所截止的日期（默认：今天）"),
    ("cases --json", "输出 JSON（每个案件一个对象），而不是表格"),
    ("cases --unmasked", "即使户编号看起来像身份证号，也完整显示"),
    (
        "cases --xlsx",
        "把办公用工作簿（按部门列出的在办案件、超期、本月办结）写入此 .xlsx 文件，而不是列出案件",
    ),
    // cases show
    ("cases show", "某户在所有批次中的救助链：预警、派单、反馈、办结"),
    ("cases show household_id", "该户的户编号（household_id）"),
    // cases close
    ("cases close", "手工办结某户的在办案件"),
    ("cases close household_id", "该户的户编号（household_id）"),
    ("cases close --reason", "办结原因（记入台账）"),
    // diff
    (
        "diff",
        "比较名册的两个快照：进入预警、离开预警、预警级别变化的户；新出现或已消失的户；有变化的指标项；渐退期；分布漂移",
    ),
    ("diff --old", "较早的名册"),
    ("diff --new", "较晚的名册"),
    ("diff --thresholds", "预警区间（默认：指标模型中的预警区间）"),
    ("diff --samples", "校准样本，作为判断分布漂移的参照（默认：较早的名册）"),
    ("diff --changes", "把每一项变化写入此 CSV 文件"),
    ("diff --json", "输出一个 JSON 对象"),
    // workbench
    (
        "workbench",
        "启动校准工作台：一个本地网页，用于调整分值、权重和预警区间，并观察精确率的变化",
    ),
    ("workbench --samples", "带核查结果的样本村（同 calibrate）"),
    ("workbench --port", "127.0.0.1 上的端口"),
    ("workbench --bind", "监听的地址（除非给出 --allow-remote，否则须为本机回环地址）"),
    (
        "workbench --allow-remote",
        "允许使用非回环地址。此时工作台要求每个请求都带令牌（令牌只打印一次，包含在要打开的网址中），并提示其通信未加密",
    ),
    ("workbench --token", "要求的令牌（与 --allow-remote 同用时默认随机生成一个）"),
    (
        "workbench --save-dir",
        "保存编辑后指标模型的唯一文件夹（默认：指标模型所在的文件夹）",
    ),
    ("workbench --objective", "校准目标（见 calibrate）"),
    ("workbench --replicates", "每次评估所用的自助法（bootstrap）重复抽样次数"),
    // simulate
    ("simulate", "模拟样本村：生成带核查结果的名册"),
    ("simulate --out", "要写入的文件夹（每个村一个子文件夹）"),
    ("simulate --villages", "村的个数（依次轮流采用四种村情类型）"),
    ("simulate --households", "总户数（默认：各村情类型自身的规模，150 到 500 户）"),
    ("simulate --seed", "随机抽取的种子"),
    ("simulate --flat", "写出一个包含所有村的名册，而不是每村一个"),
    ("simulate --force", "替换文件夹中已有的名册"),
    (
        "simulate --alerts",
        "像县里那样核查：只核查此评分文件（由 `hhrisk score` 对同一模拟名册生成）中列有预警级别或预警类型的户，再加上从其余户中抽取的抽查样本（--audit-share）；此时 outcomes.csv 带有 `selected_by` 列",
    ),
    (
        "simulate --audit-share",
        "与 --alerts 同用：从未预警的户中随机抽取、一并核查的比例，以便估计召回率",
    ),
    (
        "simulate --base-rate",
        "真正有救助需要的户所占比例（据此缩放救助需要线）；默认：采用模拟器自带的需要线",
    ),
    // items
    ("items", "列出指标模型的各指标项（Markdown 表格或 CSV），用于编写文档"),
    ("items --format", "输出格式"),
];
