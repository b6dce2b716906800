//! With the `ros2` feature and ROS 2 from PyPI wheels: the wheels' librcl needs libpython
//! (`undefined symbol: PyExc_RuntimeError` otherwise), so link it with an rpath.
//! scripts/ros-env sets FUSIONRT_PYTHON_LIBDIR; a ROS install from packages does not need it.
fn main() {
    println!("cargo:rerun-if-env-changed=FUSIONRT_PYTHON_LIBDIR");
    if std::env::var_os("CARGO_FEATURE_ROS2").is_none() {
        return;
    }
    if let Some(dir) = std::env::var_os("FUSIONRT_PYTHON_LIBDIR") {
        let dir = dir.to_string_lossy();
        println!("cargo:rustc-link-arg-bins=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg-bins=-L{dir}");
        println!("cargo:rustc-link-arg-bins=-lpython3.11");
        println!("cargo:rustc-link-arg-bins=-Wl,-rpath,{dir}");
        println!("cargo:rustc-link-arg-bins=-Wl,--as-needed");
    }
}
