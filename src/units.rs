//! Units and positions: the factors that turn written lengths and masses into metres and
//! kilograms, and the range of a `[lon, lat]` position in degrees. Rulebook quantities, OSM
//! limits, the bridge formula and every reader of positions take them from here.

/// Metres in a kilometre.
pub const METRES_PER_KILOMETRE: f64 = 1000.0;
/// Metres in an international mile.
pub const METRES_PER_MILE: f64 = 1609.344;
/// Metres in a centimetre.
pub const METRES_PER_CENTIMETRE: f64 = 0.01;
/// Metres in a millimetre.
pub const METRES_PER_MILLIMETRE: f64 = 0.001;
/// Metres in an international foot.
pub const METRES_PER_FOOT: f64 = 0.3048;
/// Metres in an international inch.
pub const METRES_PER_INCH: f64 = 0.0254;
/// Kilograms in a metric tonne.
pub const KG_PER_TONNE: f64 = 1000.0;
/// Kilograms in an avoirdupois pound.
pub const KG_PER_POUND: f64 = 0.453_592_37;
/// Kilograms in a short (US) ton of 2,000 lb.
pub const KG_PER_SHORT_TON: f64 = 907.184_74;
/// Kilograms in a long (imperial) ton of 2,240 lb.
pub const KG_PER_LONG_TON: f64 = 1_016.046_908_8;

/// Whether `[lon, lat]` is a position in degrees: longitude -180..180, latitude -90..90,
/// both ends included. A value that is not a finite number is not.
pub fn is_lon_lat(lon: f64, lat: f64) -> bool {
    (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_in_degrees_and_finite() {
        for (lon, lat) in [(0.0, 0.0), (180.0, 90.0), (-180.0, -90.0), (24.94, 60.17)] {
            assert!(is_lon_lat(lon, lat), "[{lon}, {lat}]");
        }
        for (lon, lat) in [(180.1, 0.0), (0.0, -90.5), (60.17, 124.94), (f64::NAN, 0.0), (0.0, f64::INFINITY)] {
            assert!(!is_lon_lat(lon, lat), "[{lon}, {lat}]");
        }
    }

    #[test]
    fn a_short_and_a_long_ton_are_2000_and_2240_pounds() {
        assert!((KG_PER_SHORT_TON - 2000.0 * KG_PER_POUND).abs() < 1e-9);
        assert!((KG_PER_LONG_TON - 2240.0 * KG_PER_POUND).abs() < 1e-9);
        assert!((METRES_PER_FOOT - 12.0 * METRES_PER_INCH).abs() < 1e-12);
        assert!((METRES_PER_MILE - 5280.0 * METRES_PER_FOOT).abs() < 1e-9);
    }
}
