//! Reading the real JWST files of ../shared/data/f480m-binary. Expected values were read from
//! the same files with astropy 8.0.2 (an independent reader), not printed by this code.

use std::path::PathBuf;

use ami3::fits::{find_hdu, read_fits, ColumnData, Hdu, HduData, Table};

fn read(name: &str) -> Vec<Hdu> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/f480m-binary")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    read_fits(&bytes, name).unwrap()
}

fn names(hdus: &[Hdu]) -> Vec<String> {
    hdus.iter()
        .enumerate()
        .map(|(i, h)| {
            h.extname()
                .unwrap_or(if i == 0 { "PRIMARY" } else { "?" })
                .to_string()
        })
        .collect()
}

fn table<'a>(hdus: &'a [Hdu], name: &str) -> &'a Table {
    find_hdu(hdus, name)
        .and_then(Hdu::table)
        .unwrap_or_else(|| panic!("no table {name}"))
}

fn f64s(t: &Table, col: &str) -> Vec<f64> {
    t.column(col)
        .unwrap_or_else(|| panic!("no column {col}"))
        .data
        .as_f64()
}

fn repeat(t: &Table, col: &str) -> usize {
    t.column(col).unwrap().data.repeat()
}

#[test]
fn calints_has_sci_err_dq_cubes_and_primary_keywords() {
    let hdus = read("jw10005001001_03102_00001_nis_calints.fits");
    assert_eq!(names(&hdus), ["PRIMARY", "SCI", "DQ", "ERR", "ASDF"]);
    let h = &hdus[0].header;
    assert_eq!(hdus[0].data, HduData::None);
    assert_eq!(h.get_i64("NINTS"), Some(5));
    assert_eq!(h.get_str("FILTER"), Some("F480M"));
    assert_eq!(h.get_str("PUPIL"), Some("NRM"));
    assert_eq!(h.get_str("EXP_TYPE"), Some("NIS_AMI"));
    assert_eq!(
        h.get_str("FILENAME"),
        Some("jw10005001001_03102_00001_nis_calints.fits")
    );
    assert_eq!(h.get_str("TARGPROP"), Some("SIMREF"));
    assert_eq!(h.get_f64("TARG_RA"), Some(150.0));
    assert_eq!(h.get_f64("TARG_DEC"), Some(-30.0));
    assert_eq!(h.get_i64("SUBSTRT1"), Some(1045));
    assert_eq!(h.get_f64("EXPSTART"), Some(60400.1));
    assert_eq!(h.get_bool("EXTEND"), Some(true));
    // Blank-keyword section titles are kept as text cards.
    assert!(h
        .cards
        .iter()
        .any(|c| c.key.is_empty() && c.comment.as_deref() == Some("Program information")));

    let sci = find_hdu(&hdus, "SCI").unwrap();
    assert_eq!(sci.header.get_f64("CDELT1"), Some(1.822_222_222_222_22e-5));
    assert_eq!(sci.header.get_i64("VPARITY"), Some(-1));
    assert_eq!(sci.header.get_f64("V3I_YANG"), Some(-0.57));
    let (shape, pixels) = sci.image_data().unwrap();
    assert_eq!(shape, [5, 80, 80]);
    let at = |i: usize, y: usize, x: usize| pixels[(i * 80 + y) * 80 + x];
    assert_eq!(at(0, 40, 40), f64::from(273_336.25f32));
    assert_eq!(at(4, 0, 0), f64::from(45.559_54f32));
    let total: f64 = pixels.iter().sum();
    assert!((total - 1.000_154_1e8).abs() < 1e2, "{total}");

    let err = find_hdu(&hdus, "ERR").unwrap().image_data().unwrap();
    assert_eq!(err.0, [5, 80, 80]);
    assert_eq!(err.1[(2 * 80 + 10) * 80 + 20], f64::from(29.651_983f32));
}

#[test]
fn dq_arrays_come_back_unsigned() {
    for name in [
        "jw10005001001_03102_00001_nis_calints.fits",
        "cal/jw10005003001_03102_00001_nis_cal.fits",
    ] {
        let hdus = read(name);
        let dq = find_hdu(&hdus, "DQ").unwrap();
        assert_eq!(dq.header.get_i64("BITPIX"), Some(32));
        assert_eq!(dq.header.get_f64("BZERO"), Some(2_147_483_648.0));
        let (shape, pixels) = dq.image_data().unwrap();
        assert_eq!(shape.iter().product::<usize>(), pixels.len());
        assert_eq!(*shape.last().unwrap(), 80);
        // Stored as -2^31 (raw i32); astropy reads every DQ value of these files as 0.
        assert!(pixels.iter().all(|&v| v == 0.0), "{name}");
    }
}

#[test]
fn throughput_table_has_wavelength_and_throughput() {
    let hdus = read("throughput_f480m.fits");
    assert_eq!(names(&hdus), ["PRIMARY", "THROUGHPUT"]);
    assert_eq!(hdus[0].header.get_str("REFTYPE"), Some("THROUGHPUT"));
    assert_eq!(
        hdus[0].header.get_str("DESCRIP"),
        Some("synthetic smooth top-hat at published half-power points")
    );
    let t = table(&hdus, "THROUGHPUT");
    assert_eq!(t.nrows, 400);
    assert!(matches!(
        t.column("WAVELENGTH").unwrap().data,
        ColumnData::F32 { repeat: 1, .. }
    ));
    let wl = f64s(t, "wavelength");
    let tp = f64s(t, "throughput");
    assert_eq!(wl.len(), 400);
    assert_eq!(wl[0], 45784.0);
    assert_eq!(wl[1], f64::from(45_796.11f32));
    assert_eq!(wl[399], 50616.0);
    assert_eq!(tp[0], f64::from(8.914_124_6e-14f32));
}

#[test]
fn nrm_reference_has_f2f_and_the_pupil_raster() {
    let hdus = read("nrm.fits");
    assert_eq!(names(&hdus), ["PRIMARY", "NRM"]);
    let h = &hdus[0].header;
    assert_eq!(h.get_f64("F2F"), Some(0.8));
    assert_eq!(h.get_f64("DIAM"), Some(6.559348));
    assert_eq!(h.get_f64("PUPL_CRC"), Some(6.603464));
    assert_eq!(h.get_f64("NRM_X_A2"), Some(-2.28631));
    assert_eq!(h.get_f64("NRM_Y_A3"), Some(-1.3200001));
    let (shape, pixels) = hdus[1].image_data().unwrap();
    assert_eq!(shape, [1024, 1024]);
    assert!(pixels.iter().all(|&v| v == 0.0 || v == 1.0));
    assert_eq!(pixels.iter().sum::<f64>(), 93262.0);
    assert_eq!(pixels[512 * 1024 + 512], 0.0);
}

#[test]
fn ami_oi_tables_keep_vector_columns_strings_and_logicals() {
    let hdus = read("out-jwst-3.0.0/jw10005003001_03102_00001_nis_ami-oi.fits");
    assert_eq!(
        names(&hdus),
        [
            "PRIMARY",
            "OI_ARRAY",
            "OI_TARGET",
            "OI_T3",
            "OI_VIS",
            "OI_VIS2",
            "OI_Q4",
            "OI_WAVELENGTH",
            "ASDF"
        ]
    );
    assert_eq!(hdus[0].header.get_str("TARGPROP"), Some("SIMBIN"));
    assert_eq!(hdus[0].header.get_str("CAL_VER"), Some("3.0.0"));

    let array = table(&hdus, "OI_ARRAY");
    assert_eq!(
        find_hdu(&hdus, "OI_ARRAY")
            .unwrap()
            .header
            .get_str("ARRNAME"),
        Some("jwst_ami")
    );
    assert_eq!(array.nrows, 7);
    let tel = array.column("TEL_NAME").unwrap();
    assert!(matches!(tel.data, ColumnData::Str { width: 16, .. }));
    assert_eq!(
        tel.data.as_strs().unwrap(),
        ["A1", "A2", "A3", "A4", "A5", "A6", "A7"]
    );
    assert_eq!(
        array.column("FOVTYPE").unwrap().data.as_strs().unwrap()[0],
        "RADIUS"
    );
    assert_eq!(
        array.column("STA_INDEX").unwrap().data,
        ColumnData::I16 {
            repeat: 1,
            values: (1..=7).collect()
        }
    );
    assert_eq!(repeat(array, "STAXYZ"), 3);
    assert_eq!(
        f64s(array, "STAXYZ")[..3],
        [2.64, -1.616_533_774_874_506_4e-16, 0.0]
    );
    assert_eq!(repeat(array, "CTRS_EQT"), 2);
    assert_eq!(
        f64s(array, "CTRS_EQT")[2..4],
        [-2.799_922_223_358_585e-16, 2.28631]
    );
    assert_eq!(f64s(array, "PISTONS")[0], 9.276_373_575_038_336);

    let target = table(&hdus, "OI_TARGET");
    assert_eq!(
        target.column("TARGET").unwrap().data.as_strs().unwrap(),
        ["SIMBIN"]
    );
    assert_eq!(
        target.column("VELDEF").unwrap().data.as_strs().unwrap(),
        ["OPTICAL"]
    );
    assert_eq!(
        target.column("EQUINOX").unwrap().data,
        ColumnData::F32 {
            repeat: 1,
            values: vec![2000.0]
        }
    );

    let t3 = table(&hdus, "OI_T3");
    assert_eq!(t3.nrows, 35);
    // Every FLAG is 'F' in the file: fitsrs alone would read them as true.
    assert_eq!(
        t3.column("FLAG").unwrap().data,
        ColumnData::Bool {
            repeat: 1,
            values: vec![false; 35]
        }
    );
    assert_eq!(repeat(t3, "STA_INDEX"), 3);
    assert_eq!(f64s(t3, "STA_INDEX")[..3], [1.0, 2.0, 3.0]);
    assert_eq!(f64s(t3, "T3PHI")[0], -4.705_065_546_537_936);
    assert_eq!(f64s(t3, "MJD")[0], 60401.0);
    assert_eq!(repeat(table(&hdus, "OI_VIS"), "STA_INDEX"), 2);
    assert_eq!(repeat(table(&hdus, "OI_VIS2"), "STA_INDEX"), 2);
    assert_eq!(repeat(table(&hdus, "OI_Q4"), "STA_INDEX"), 4);
    assert_eq!(table(&hdus, "OI_Q4").columns.len(), 18);
    assert_eq!(
        f64s(table(&hdus, "OI_WAVELENGTH"), "EFF_WAVE"),
        [f64::from(4.817_605e-6f32)]
    );

    let asdf = table(&hdus, "ASDF").column("ASDF_METADATA").unwrap();
    let ColumnData::U8 { repeat, values } = &asdf.data else {
        panic!("{:?}", asdf.data)
    };
    assert_eq!(*repeat, 7780);
    assert!(values.starts_with(b"#ASDF 1.0.0\n#ASDF_ST"));
}

#[test]
fn multi_integration_tables_have_nint_vectors() {
    let hdus = read("out-jwst-3.0.0/jw10005003001_03102_00001_nis_amimulti-oi.fits");
    let t3 = table(&hdus, "OI_T3");
    assert_eq!(repeat(t3, "T3PHI"), 5);
    assert_eq!(repeat(t3, "U1COORD"), 1);
    assert_eq!(
        f64s(t3, "T3PHI")[..5],
        [
            -4.866_113_600_690_332_5,
            -4.638_912_235_978_835,
            -4.571_132_146_785_382,
            -4.703_017_508_646_639_5,
            -4.746_152_240_588_504
        ]
    );
    let pistons = f64s(table(&hdus, "OI_ARRAY"), "PISTONS");
    assert_eq!(pistons.len(), 35);
    assert_eq!(
        pistons[30..],
        [
            -10.185_597_913_438_876,
            -10.232_504_581_024_074,
            -10.354_756_858_426_065,
            -10.248_469_666_732_865,
            -10.502_669_538_919_562
        ]
    );
}

#[test]
fn amilg_has_cubes_and_44_coefficient_rows() {
    let hdus = read("out-jwst-3.0.0/jw10005003001_03102_00001_nis_amilg.fits");
    assert_eq!(
        names(&hdus),
        ["PRIMARY", "CTRD", "N_CTRD", "FIT", "N_FIT", "RESID", "N_RESID", "SOLNS", "ASDF"]
    );
    let (shape, pixels) = find_hdu(&hdus, "CTRD").unwrap().image_data().unwrap();
    assert_eq!(shape, [5, 71, 71]);
    assert_eq!(pixels[(2 * 71 + 35) * 71 + 35], f64::from(290_830.22f32));
    let solns = table(&hdus, "SOLNS");
    assert_eq!(solns.nrows, 5);
    assert_eq!(repeat(solns, "coeffs"), 44);
    let c = f64s(solns, "COEFFS");
    assert_eq!(
        c[..3],
        [1.0, 0.994_116_314_163_275_4, 0.004_586_763_439_729_902_4]
    );
    assert_eq!(c[4 * 44 + 43], 0.001_058_926_403_160_832_8);
}

#[test]
fn every_shared_fits_file_reads_and_rewrites_identically() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/f480m-binary");
    let mut files = Vec::new();
    for dir in ["", "out-jwst-3.0.0", "cal", "cal/out-jwst-3.0.0"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "fits") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 20, "{files:?}");
    for path in files {
        let name = path.display().to_string();
        let hdus = read_fits(&std::fs::read(&path).unwrap(), &name).unwrap();
        let again = read_fits(&ami3::fits::write_fits(&hdus), &name).unwrap();
        assert_eq!(hdus.len(), again.len(), "{name}");
        for (a, b) in hdus.iter().zip(&again) {
            // Same data; Debug prints every NaN alike, which is the equality wanted here.
            assert_eq!(format!("{:?}", a.data), format!("{:?}", b.data), "{name}");
            // Every original card that is not structural is still there, in order.
            let kept: Vec<_> = b
                .header
                .cards
                .iter()
                .filter(|c| a.header.cards.contains(c))
                .collect();
            let originals: Vec<_> = a
                .header
                .cards
                .iter()
                .filter(|c| b.header.cards.contains(c))
                .collect();
            assert_eq!(kept, originals, "{name}");
        }
    }
}
