//! Word lists for names: companies, industries, regions, people, job titles and the vendor's CSMs.
//!
//! Every generated name is fictional; company domains and the vendor's addresses use the reserved `.example`
//! top-level domain.

use crate::rng::Rng;

/// First words of company names; the lower-cased word starts the account id (`northwind-17`).
pub const COMPANY_WORDS: &[&str] = &[
    "Acme",
    "Northwind",
    "Bluefin",
    "Cobalt",
    "Evergreen",
    "Granite",
    "Harbor",
    "Ironwood",
    "Juniper",
    "Keystone",
    "Lumen",
    "Maple",
    "Nimbus",
    "Orchid",
    "Pioneer",
    "Quarry",
    "Redwood",
    "Summit",
    "Tidal",
    "Umber",
    "Vantage",
    "Willow",
    "Yarrow",
    "Zenith",
    "Alder",
    "Beacon",
    "Cascade",
    "Delta",
    "Ember",
    "Falcon",
    "Glacier",
    "Horizon",
    "Indigo",
    "Jasper",
    "Kestrel",
    "Lattice",
    "Meridian",
    "Nova",
    "Onyx",
    "Prairie",
    "Quill",
    "Ridge",
    "Sable",
    "Terra",
    "Upland",
    "Vertex",
    "Wren",
    "Xenon",
    "Yellowstone",
    "Zephyr",
    "Aurora",
    "Birch",
    "Cedar",
    "Dune",
    "Elm",
    "Fjord",
    "Grove",
    "Heron",
    "Isle",
    "Jet",
    "Kite",
    "Lark",
    "Mesa",
    "Nook",
    "Oak",
    "Pine",
    "Quartz",
    "Raven",
    "Sierra",
    "Thistle",
    "Ursa",
    "Vale",
    "Wave",
    "Yew",
    "Zinc",
    "Atlas",
    "Brook",
    "Crest",
    "Drift",
];

/// Industries with the words their company names end in.
pub const INDUSTRIES: &[(&str, &[&str])] = &[
    (
        "software",
        &["Software", "Labs", "Systems", "Cloud", "Technologies"],
    ),
    ("logistics", &["Logistics", "Freight", "Shipping", "Supply"]),
    ("healthcare", &["Health", "Clinics", "Medical", "Care"]),
    (
        "financial_services",
        &["Capital", "Finance", "Partners", "Advisors"],
    ),
    ("retail", &["Retail", "Goods", "Outfitters", "Market"]),
    (
        "manufacturing",
        &["Manufacturing", "Industries", "Works", "Fabrication"],
    ),
    ("media", &["Media", "Studios", "Publishing"]),
    ("education", &["Learning", "Academy", "Education"]),
    (
        "professional_services",
        &["Consulting", "Group", "Associates"],
    ),
];

/// Regions with their share of accounts and the UTC offsets (hours) of their business hours.
pub const REGIONS: &[(&str, f64, &[i32])] = &[
    ("na", 0.55, &[-8, -7, -6, -5]),
    ("emea", 0.30, &[0, 1, 2]),
    ("apac", 0.10, &[8, 9, 10]),
    ("latam", 0.05, &[-5, -3]),
];

/// Given names for customer contacts and CSMs.
pub const FIRST_NAMES: &[&str] = &[
    "Dana", "Maria", "James", "Priya", "Wei", "Olivia", "Liam", "Aisha", "Noah", "Sofia", "Mateo",
    "Emma", "Lucas", "Chloe", "Ethan", "Yuki", "Omar", "Grace", "Leo", "Amara", "Daniel", "Hannah",
    "Ravi", "Isabel", "Samuel", "Mia", "Jonas", "Zara", "Felix", "Nora", "Carlos", "Elena", "Adam",
    "Lina", "Victor", "Ines", "Hugo", "Ava", "Kenji", "Fatima", "Oscar", "Julia", "Ben", "Leila",
    "Marco", "Sara", "Tomas", "Anya", "Diego", "Freya", "Kofi", "Mei", "Ali", "Clara", "Ivan",
    "Rosa", "Theo", "Nadia", "Paul", "Eva",
];

/// Family names for customer contacts and CSMs.
pub const LAST_NAMES: &[&str] = &[
    "Reyes",
    "Chen",
    "Smith",
    "Patel",
    "Nguyen",
    "Garcia",
    "Kim",
    "Johnson",
    "Müller",
    "Rossi",
    "Silva",
    "Brown",
    "Tanaka",
    "Okafor",
    "Novak",
    "Dubois",
    "Khan",
    "Larsen",
    "Lopez",
    "Cohen",
    "Singh",
    "Martin",
    "Walker",
    "Ivanova",
    "Haddad",
    "Moreau",
    "Fischer",
    "Costa",
    "Sato",
    "Andersen",
    "Murphy",
    "Ortiz",
    "Wright",
    "Schmidt",
    "Ali",
    "Bianchi",
    "Yilmaz",
    "Kowalski",
    "Mensah",
    "Park",
    "Hughes",
    "Weber",
    "Romero",
    "Lindqvist",
    "Abbott",
    "Fernandes",
    "Byrne",
    "Kaur",
    "Varga",
    "Ito",
    "Ramos",
    "Meyer",
    "Price",
    "Santos",
    "Horvat",
    "Jensen",
    "Dalton",
    "Ward",
    "Ng",
    "Berg",
];

/// Titles for champions.
pub const CHAMPION_TITLES: &[&str] = &[
    "Head of Operations",
    "RevOps Manager",
    "Analytics Lead",
    "Director of Customer Operations",
    "Operations Manager",
    "Head of Data",
    "Program Manager",
];

/// Titles for executive sponsors.
pub const SPONSOR_TITLES: &[&str] = &[
    "VP Operations",
    "COO",
    "CFO",
    "CTO",
    "VP Finance",
    "Chief Data Officer",
    "CEO",
];

/// Titles for product administrators.
pub const ADMIN_TITLES: &[&str] = &[
    "IT Administrator",
    "Systems Administrator",
    "Platform Admin",
    "IT Manager",
];

/// Titles for everyday users.
pub const USER_TITLES: &[&str] = &[
    "Analyst",
    "Account Executive",
    "Engineer",
    "Operations Specialist",
    "Team Lead",
    "Data Analyst",
    "Coordinator",
    "Consultant",
];

/// A person's given and family name.
pub fn person(rng: &mut Rng) -> (&'static str, &'static str) {
    (*rng.pick(FIRST_NAMES), *rng.pick(LAST_NAMES))
}

/// An email local part for a person: `dana.reyes` (ASCII only).
pub fn email_local(first: &str, last: &str) -> String {
    let mut s = String::with_capacity(first.len() + last.len() + 1);
    for (i, part) in [first, last].iter().enumerate() {
        if i == 1 {
            s.push('.');
        }
        for c in part.chars() {
            match c {
                'ü' => s.push('u'),
                c if c.is_ascii_alphanumeric() => s.push(c.to_ascii_lowercase()),
                _ => {}
            }
        }
    }
    s
}

/// The `n`-th distinct CSM name (first, last), in a fixed order that mixes both lists.
pub fn csm_name(n: usize) -> (&'static str, &'static str) {
    let f = FIRST_NAMES.len();
    let l = LAST_NAMES.len();
    // Walk the grid diagonally with co-prime steps so consecutive CSMs share neither name.
    let i = (n * 7) % f;
    let j = (n * 11 + n / f) % l;
    (FIRST_NAMES[i], LAST_NAMES[j])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_ascii() {
        assert_eq!(email_local("Dana", "Müller"), "dana.muller");
    }

    #[test]
    fn csm_names_are_distinct_for_large_teams() {
        let mut seen = std::collections::HashSet::new();
        for n in 0..2000 {
            assert!(seen.insert(csm_name(n)), "repeat at {n}");
        }
    }
}
