"""The 15 SCMR Level I curriculum topics (SPEC section 4). Slugs are stable: rulesets and exports use them."""

CURRICULUM_TOPICS: list[tuple[str, str]] = [
    ("safety", "MR safety"),
    ("contrast", "Contrast agents"),
    ("flow", "Flow quantification"),
    ("anatomy", "Cardiac anatomy"),
    ("ventricular-function", "Ventricular function"),
    ("infarction-viability", "Infarction and viability"),
    ("fibrosis-edema", "Fibrosis and edema (tissue characterization)"),
    ("pharmacologic-stress", "Pharmacologic stress perfusion"),
    ("vascular-aorta", "Vascular and aorta"),
    ("valvular", "Valvular disease"),
    ("congenital", "Congenital heart disease"),
    ("cardiomyopathy", "Cardiomyopathy and heart failure"),
    ("arrhythmia", "Arrhythmia"),
    ("pericardial", "Pericardial disease"),
    ("masses", "Cardiac masses"),
]
