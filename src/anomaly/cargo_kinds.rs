//! The indivisible cargo categories of `rules/cn.toml` with their realistic ranges (sources
//! in `models/README.md`): the features compare a cargo with its category's typical density,
//! mass and shape, and the training-data generator draws cargo from the same ranges.

/// A cargo category with its realistic ranges (see `models/README.md`).
#[derive(Debug, Clone, Copy)]
pub struct CargoKind {
    /// Category name, as in `rules/cn.toml`.
    pub name: &'static str,
    /// Relative frequency in generated applications.
    pub share: f64,
    /// Bounding-box length range (m).
    pub length_m: (f64, f64),
    /// Bounding-box width range (m); round cargo uses it for the diameter.
    pub width_m: (f64, f64),
    /// Bounding-box height range (m); ignored for round cargo.
    pub height_m: (f64, f64),
    /// Mass over bounding-box volume (kg/m³).
    pub density_kg_m3: (f64, f64),
    /// Realistic cargo mass (kg); samples outside are drawn again.
    pub mass_kg: (f64, f64),
    /// Cylindrical cargo: width = height = diameter.
    pub round: bool,
    /// Descriptions used in generated applications.
    pub description: &'static str,
}

impl CargoKind {
    /// Geometric middle of the density range (kg/m³): the category's typical density.
    pub fn typical_density(&self) -> f64 {
        (self.density_kg_m3.0 * self.density_kg_m3.1).sqrt()
    }

    /// Geometric middle of the mass range (kg).
    pub fn typical_mass(&self) -> f64 {
        (self.mass_kg.0 * self.mass_kg.1).sqrt()
    }

    /// Length over width of the geometric-middle box.
    pub fn typical_slenderness(&self) -> f64 {
        ((self.length_m.0 * self.length_m.1) / (self.width_m.0 * self.width_m.1)).sqrt()
    }
}

/// The indivisible categories of `rules/cn.toml` with realistic ranges.
pub const CARGO_KINDS: [CargoKind; 8] = [
    CargoKind {
        name: "transformer",
        share: 3.0,
        length_m: (5.5, 12.0),
        width_m: (2.6, 4.0),
        height_m: (2.8, 4.3),
        density_kg_m3: (220.0, 2200.0),
        mass_kg: (15_000.0, 300_000.0),
        round: false,
        description: "power transformer",
    },
    CargoKind {
        name: "wind_turbine_blade",
        share: 2.0,
        length_m: (40.0, 90.0),
        width_m: (3.0, 4.5),
        height_m: (2.8, 4.2),
        density_kg_m3: (15.0, 70.0),
        mass_kg: (6_000.0, 35_000.0),
        round: false,
        description: "wind turbine rotor blade",
    },
    CargoKind {
        name: "wind_turbine_tower_section",
        share: 2.0,
        length_m: (15.0, 32.0),
        width_m: (3.8, 5.2),
        height_m: (3.8, 5.2),
        density_kg_m3: (70.0, 320.0),
        mass_kg: (25_000.0, 110_000.0),
        round: true,
        description: "wind turbine tower section",
    },
    CargoKind {
        name: "wind_turbine_nacelle",
        share: 1.0,
        length_m: (8.0, 14.0),
        width_m: (3.5, 4.5),
        height_m: (3.4, 4.3),
        density_kg_m3: (350.0, 1400.0),
        mass_kg: (45_000.0, 200_000.0),
        round: false,
        description: "wind turbine nacelle",
    },
    CargoKind {
        name: "excavator",
        share: 2.0,
        length_m: (7.0, 16.0),
        width_m: (3.0, 4.2),
        height_m: (3.0, 4.2),
        density_kg_m3: (250.0, 1200.0),
        mass_kg: (12_000.0, 150_000.0),
        round: false,
        description: "hydraulic excavator",
    },
    CargoKind {
        name: "pressure_vessel",
        share: 1.5,
        length_m: (10.0, 35.0),
        width_m: (3.0, 5.5),
        height_m: (3.0, 5.5),
        density_kg_m3: (80.0, 900.0),
        mass_kg: (15_000.0, 300_000.0),
        round: true,
        description: "pressure vessel",
    },
    CargoKind {
        name: "bridge_girder",
        share: 1.5,
        length_m: (18.0, 45.0),
        width_m: (1.6, 3.4),
        height_m: (1.5, 2.8),
        density_kg_m3: (450.0, 1800.0),
        mass_kg: (20_000.0, 200_000.0),
        round: false,
        description: "precast bridge girder",
    },
    CargoKind {
        name: "generator_stator",
        share: 1.0,
        length_m: (5.0, 11.0),
        width_m: (3.4, 4.8),
        height_m: (3.4, 4.5),
        density_kg_m3: (1500.0, 4500.0),
        mass_kg: (60_000.0, 280_000.0),
        round: false,
        description: "generator stator",
    },
];

/// The category by name.
pub fn cargo_kind(name: &str) -> Option<&'static CargoKind> {
    CARGO_KINDS.iter().find(|k| k.name == name)
}
