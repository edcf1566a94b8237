//! With the `link` feature: finds the system DPDK with pkg-config (`libdpdk`),
//! generates bindings for the functions, types and constants p4clone uses with
//! bindgen, and compiles the C shim (`shim/shim.c`) that turns DPDK's
//! static-inline functions into real ones. Without it the crate is empty.

#[cfg(feature = "link")]
use std::env;
#[cfg(feature = "link")]
use std::path::PathBuf;
#[cfg(feature = "link")]
use std::process::Command;

#[cfg(feature = "link")]
const HINT: &str = "install DPDK's development files (Debian/Ubuntu: `apt-get install libdpdk-dev dpdk libclang-dev \
                    pkg-config`, or run scripts/setup-dpdk.sh), or set PKG_CONFIG_PATH to the directory holding \
                    libdpdk.pc";

/// Functions bound directly (real exported symbols of the DPDK libraries).
#[cfg(feature = "link")]
const FUNCTIONS: &[&str] = &[
    "rte_eal_init",
    "rte_eal_cleanup",
    "rte_strerror",
    "rte_lcore_count",
    "rte_get_main_lcore",
    "rte_get_next_lcore",
    "rte_lcore_to_socket_id",
    "rte_socket_id",
    "rte_eal_remote_launch",
    "rte_eal_wait_lcore",
    "rte_dev_probe",
    "rte_eal_hotplug_remove",
    "rte_eth_dev_count_avail",
    "rte_eth_dev_is_valid_port",
    "rte_eth_dev_get_port_by_name",
    "rte_eth_dev_get_name_by_port",
    "rte_eth_dev_socket_id",
    "rte_eth_dev_info_get",
    "rte_eth_dev_configure",
    "rte_eth_dev_adjust_nb_rx_tx_desc",
    "rte_eth_rx_queue_setup",
    "rte_eth_tx_queue_setup",
    "rte_eth_dev_start",
    "rte_eth_dev_stop",
    "rte_eth_dev_close",
    "rte_eth_promiscuous_enable",
    "rte_eth_stats_get",
    "rte_eth_stats_reset",
    "rte_pktmbuf_pool_create",
    "rte_pktmbuf_clone",
    "rte_pktmbuf_free_bulk",
    "rte_mempool_free",
    "rte_mempool_avail_count",
    "rte_mempool_in_use_count",
    "rte_mbuf_dyn_rx_timestamp_register",
    "rte_thread_register",
    "rte_thread_unregister",
    // The shim (shim/shim.h).
    "p4c_.*",
];

/// Constants (object-like macros and enum values).
#[cfg(feature = "link")]
const VARS: &[&str] = &[
    "RTE_MAX_ETHPORTS",
    "RTE_MAX_LCORE",
    "RTE_PKTMBUF_HEADROOM",
    "RTE_ETH_NAME_MAX_LEN",
    "RTE_MEMPOOL_CACHE_MAX_SIZE",
    "SOCKET_ID_ANY",
    "RTE_ETH_MQ_RX_.*",
    "RTE_ETH_MQ_TX_.*",
];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(p4clone_dpdk_missing)");
    #[cfg(feature = "link")]
    generate();
    #[cfg(not(feature = "link"))]
    println!("cargo::rustc-cfg=p4clone_dpdk_missing");
}

#[cfg(feature = "link")]
fn generate() {
    println!("cargo::rerun-if-changed=shim/shim.h");
    println!("cargo::rerun-if-changed=shim/shim.c");
    println!("cargo::rerun-if-env-changed=PKG_CONFIG_PATH");

    let lib = match pkg_config::Config::new().atleast_version("22.11").probe("libdpdk") {
        Ok(lib) => lib,
        Err(e) => panic!("p4clone-dpdk-sys: pkg-config could not find libdpdk >= 22.11: {e}\n{HINT}"),
    };

    // All cflags, including `-include rte_config.h` and `-march=...`, which the
    // pkg-config crate does not expose.
    let out = Command::new(env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into()))
        .args(["--cflags", "libdpdk"])
        .output()
        .expect("p4clone-dpdk-sys: running pkg-config --cflags libdpdk");
    assert!(out.status.success(), "pkg-config --cflags libdpdk failed: {}", String::from_utf8_lossy(&out.stderr));
    let cflags: Vec<String> =
        String::from_utf8(out.stdout).expect("utf-8 cflags").split_whitespace().map(String::from).collect();

    let mut cc = cc::Build::new();
    cc.file("shim/shim.c").include("shim").warnings(true).opt_level(3);
    for f in &cflags {
        cc.flag(f);
    }
    cc.compile("p4clone_dpdk_shim");

    let mut b = bindgen::Builder::default()
        .header("shim/shim.h")
        .clang_arg("-Ishim")
        .clang_args(&cflags)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .derive_default(true)
        .layout_tests(true)
        .generate_comments(false);
    for f in FUNCTIONS {
        b = b.allowlist_function(f);
    }
    for v in VARS {
        b = b.allowlist_var(v);
    }
    let bindings = b.generate().unwrap_or_else(|e| panic!("p4clone-dpdk-sys: bindgen failed on shim/shim.h: {e}"));
    let dest = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("bindings.rs");
    bindings.write_to_file(&dest).expect("writing bindings.rs");
    println!("cargo::rustc-env=P4CLONE_DPDK_VERSION={}", lib.version);
}
