//! ROS 2 message definitions (`ros2msg` text) of every type fusionrt writes, so a bag or an
//! MCAP file carries its own schemas and Foxglove, the `mcap` CLI and `rosbags` read it with no
//! ROS install.
//!
//! [`definition`] gives the text rosbag2 stores: the type's own `.msg` text, then each nested
//! type once, depth first, after a line of 80 `=` and `MSG: pkg/Type`. The texts follow the
//! upstream `.msg` files (ROS 2 Jazzy common_interfaces, autoware_perception_msgs 1.12.0) with
//! comments dropped.

const SEPARATOR: &str =
    "================================================================================";

/// `(type name, .msg text)`; nested types are found from the field types.
const DEFINITIONS: &[(&str, &str)] = &[
    ("builtin_interfaces/Time", "int32 sec\nuint32 nanosec\n"),
    ("builtin_interfaces/Duration", "int32 sec\nuint32 nanosec\n"),
    (
        "std_msgs/Header",
        "builtin_interfaces/Time stamp\nstring frame_id\n",
    ),
    (
        "std_msgs/ColorRGBA",
        "float32 r\nfloat32 g\nfloat32 b\nfloat32 a\n",
    ),
    ("geometry_msgs/Vector3", "float64 x\nfloat64 y\nfloat64 z\n"),
    ("geometry_msgs/Point", "float64 x\nfloat64 y\nfloat64 z\n"),
    ("geometry_msgs/Point32", "float32 x\nfloat32 y\nfloat32 z\n"),
    (
        "geometry_msgs/Quaternion",
        "float64 x 0\nfloat64 y 0\nfloat64 z 0\nfloat64 w 1\n",
    ),
    ("geometry_msgs/Polygon", "Point32[] points\n"),
    (
        "geometry_msgs/Pose",
        "Point position\nQuaternion orientation\n",
    ),
    (
        "geometry_msgs/PoseWithCovariance",
        "Pose pose\nfloat64[36] covariance\n",
    ),
    ("geometry_msgs/Twist", "Vector3 linear\nVector3 angular\n"),
    (
        "geometry_msgs/TwistWithCovariance",
        "Twist twist\nfloat64[36] covariance\n",
    ),
    ("geometry_msgs/Accel", "Vector3 linear\nVector3 angular\n"),
    (
        "geometry_msgs/AccelWithCovariance",
        "Accel accel\nfloat64[36] covariance\n",
    ),
    (
        "geometry_msgs/Transform",
        "Vector3 translation\nQuaternion rotation\n",
    ),
    (
        "geometry_msgs/TransformStamped",
        "std_msgs/Header header\nstring child_frame_id\nTransform transform\n",
    ),
    (
        "tf2_msgs/TFMessage",
        "geometry_msgs/TransformStamped[] transforms\n",
    ),
    (
        "nav_msgs/Odometry",
        "std_msgs/Header header\nstring child_frame_id\n\
         geometry_msgs/PoseWithCovariance pose\ngeometry_msgs/TwistWithCovariance twist\n",
    ),
    (
        "sensor_msgs/PointField",
        "uint8 INT8    = 1\nuint8 UINT8   = 2\nuint8 INT16   = 3\nuint8 UINT16  = 4\n\
         uint8 INT32   = 5\nuint8 UINT32  = 6\nuint8 FLOAT32 = 7\nuint8 FLOAT64 = 8\n\
         string name\nuint32 offset\nuint8 datatype\nuint32 count\n",
    ),
    (
        "sensor_msgs/PointCloud2",
        "std_msgs/Header header\nuint32 height\nuint32 width\nPointField[] fields\n\
         bool is_bigendian\nuint32 point_step\nuint32 row_step\nuint8[] data\nbool is_dense\n",
    ),
    (
        "sensor_msgs/Image",
        "std_msgs/Header header\nuint32 height\nuint32 width\nstring encoding\n\
         uint8 is_bigendian\nuint32 step\nuint8[] data\n",
    ),
    (
        "sensor_msgs/CompressedImage",
        "std_msgs/Header header\nstring format\nuint8[] data\n",
    ),
    (
        "sensor_msgs/RegionOfInterest",
        "uint32 x_offset\nuint32 y_offset\nuint32 height\nuint32 width\nbool do_rectify\n",
    ),
    (
        "sensor_msgs/CameraInfo",
        "std_msgs/Header header\nuint32 height\nuint32 width\nstring distortion_model\n\
         float64[] d\nfloat64[9] k\nfloat64[9] r\nfloat64[12] p\nuint32 binning_x\n\
         uint32 binning_y\nRegionOfInterest roi\n",
    ),
    ("unique_identifier_msgs/UUID", "uint8[16] uuid\n"),
    (
        "autoware_perception_msgs/ObjectClassification",
        "uint8 UNKNOWN = 0\nuint8 CAR = 1\nuint8 TRUCK = 2\nuint8 BUS = 3\nuint8 TRAILER = 4\n\
         uint8 MOTORCYCLE = 5\nuint8 BICYCLE = 6\nuint8 PEDESTRIAN = 7\nuint8 ANIMAL = 8\n\
         uint8 HAZARD = 9\nuint8 OVER_DRIVABLE = 10\nuint8 UNDER_DRIVABLE = 11\n\
         uint8 label\nfloat32 probability\n",
    ),
    (
        "autoware_perception_msgs/Shape",
        "uint8 BOUNDING_BOX=0\nuint8 CYLINDER=1\nuint8 POLYGON=2\nuint8 type\n\
         geometry_msgs/Polygon footprint\ngeometry_msgs/Vector3 dimensions\n",
    ),
    (
        "autoware_perception_msgs/DetectedObjectKinematics",
        "uint8 UNAVAILABLE=0\nuint8 SIGN_UNKNOWN=1\nuint8 AVAILABLE=2\n\
         geometry_msgs/PoseWithCovariance pose_with_covariance\nbool has_position_covariance\n\
         uint8 orientation_availability\ngeometry_msgs/TwistWithCovariance twist_with_covariance\n\
         bool has_twist\nbool has_twist_covariance\n",
    ),
    (
        "autoware_perception_msgs/DetectedObject",
        "float32 existence_probability\nObjectClassification[] classification\n\
         DetectedObjectKinematics kinematics\nShape shape\n",
    ),
    (
        "autoware_perception_msgs/DetectedObjects",
        "std_msgs/Header header\nDetectedObject[] objects\n",
    ),
    (
        "autoware_perception_msgs/TrackedObjectKinematics",
        "uint8 UNAVAILABLE=0\nuint8 SIGN_UNKNOWN=1\nuint8 AVAILABLE=2\n\
         geometry_msgs/PoseWithCovariance pose_with_covariance\n\
         geometry_msgs/TwistWithCovariance twist_with_covariance\n\
         geometry_msgs/AccelWithCovariance acceleration_with_covariance\n\
         uint8 orientation_availability\nbool is_stationary\n",
    ),
    (
        "autoware_perception_msgs/TrackedObject",
        "unique_identifier_msgs/UUID object_id\nfloat32 existence_probability\n\
         ObjectClassification[] classification\nTrackedObjectKinematics kinematics\nShape shape\n",
    ),
    (
        "autoware_perception_msgs/TrackedObjects",
        "std_msgs/Header header\nTrackedObject[] objects\n",
    ),
    ("visualization_msgs/UVCoordinate", "float32 u\nfloat32 v\n"),
    (
        "visualization_msgs/MeshFile",
        "string filename\nuint8[] data\n",
    ),
    (
        "visualization_msgs/Marker",
        "int32 ARROW=0\nint32 CUBE=1\nint32 SPHERE=2\nint32 CYLINDER=3\nint32 LINE_STRIP=4\n\
         int32 LINE_LIST=5\nint32 CUBE_LIST=6\nint32 SPHERE_LIST=7\nint32 POINTS=8\n\
         int32 TEXT_VIEW_FACING=9\nint32 MESH_RESOURCE=10\nint32 TRIANGLE_LIST=11\n\
         int32 ARROW_STRIP=12\nint32 ADD=0\nint32 MODIFY=0\nint32 DELETE=2\nint32 DELETEALL=3\n\
         std_msgs/Header header\nstring ns\nint32 id\nint32 type\nint32 action\n\
         geometry_msgs/Pose pose\ngeometry_msgs/Vector3 scale\nstd_msgs/ColorRGBA color\n\
         builtin_interfaces/Duration lifetime\nbool frame_locked\ngeometry_msgs/Point[] points\n\
         std_msgs/ColorRGBA[] colors\nstring texture_resource\nsensor_msgs/CompressedImage texture\n\
         UVCoordinate[] uv_coordinates\nstring text\nstring mesh_resource\nMeshFile mesh_file\n\
         bool mesh_use_embedded_materials\n",
    ),
    ("visualization_msgs/MarkerArray", "Marker[] markers\n"),
    ("diagnostic_msgs/KeyValue", "string key\nstring value\n"),
    (
        "diagnostic_msgs/DiagnosticStatus",
        "byte OK=0\nbyte WARN=1\nbyte ERROR=2\nbyte STALE=3\nbyte level\nstring name\n\
         string message\nstring hardware_id\nKeyValue[] values\n",
    ),
    (
        "diagnostic_msgs/DiagnosticArray",
        "std_msgs/Header header\nDiagnosticStatus[] status\n",
    ),
];

const PRIMITIVES: &[&str] = &[
    "bool", "byte", "char", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
    "uint64", "float32", "float64", "string", "wstring",
];

/// `pkg/msg/Type` or `pkg/Type` as `pkg/Type`.
fn short_name(type_name: &str) -> String {
    type_name.replacen("/msg/", "/", 1)
}

fn text_of(short: &str) -> Option<&'static str> {
    DEFINITIONS
        .iter()
        .find(|(name, _)| *name == short)
        .map(|(_, text)| *text)
}

/// The nested types a definition names, as `pkg/Type`, in field order.
fn nested_types(package: &str, text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let ty = words.next()?;
            words.next()?; // the field name
            if line.contains('=') {
                return None; // a constant
            }
            let base = ty.split('[').next().unwrap_or(ty);
            if PRIMITIVES.contains(&base) {
                None
            } else if base.contains('/') {
                Some(base.to_string())
            } else {
                Some(format!("{package}/{base}"))
            }
        })
        .collect()
}

/// The `ros2msg` definition of `type_name` (`pkg/msg/Type`) with every nested type, or `None`
/// for a type fusionrt does not write.
pub fn definition(type_name: &str) -> Option<String> {
    let root = short_name(type_name);
    let mut out = text_of(&root)?.to_string();
    let mut seen = vec![root.clone()];
    let mut stack: Vec<String> = Vec::new();
    let push_nested = |name: &str, stack: &mut Vec<String>| {
        let package = name.split('/').next().unwrap_or_default();
        let nested = nested_types(package, text_of(name).unwrap_or_default());
        stack.extend(nested.into_iter().rev());
    };
    push_nested(&root, &mut stack);
    while let Some(name) = stack.pop() {
        if seen.contains(&name) {
            continue;
        }
        let text = text_of(&name)?;
        out.push_str(SEPARATOR);
        out.push('\n');
        out.push_str("MSG: ");
        out.push_str(&name);
        out.push('\n');
        out.push_str(text);
        seen.push(name.clone());
        push_nested(&name, &mut stack);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nested_type_is_defined_once() {
        for (name, _) in DEFINITIONS {
            let full = name.replacen('/', "/msg/", 1);
            let text = definition(&full).unwrap_or_else(|| panic!("{name} incomplete"));
            for (nested, _) in DEFINITIONS {
                assert!(text.matches(&format!("MSG: {nested}\n")).count() <= 1);
            }
        }
    }

    #[test]
    fn pointcloud2_lists_header_time_and_point_field() {
        let text = definition("sensor_msgs/msg/PointCloud2").unwrap();
        assert!(text.starts_with("std_msgs/Header header\n"));
        for nested in [
            "MSG: std_msgs/Header",
            "MSG: builtin_interfaces/Time",
            "MSG: sensor_msgs/PointField",
        ] {
            assert!(text.contains(nested), "{text}");
        }
        assert!(definition("foo_msgs/msg/Bar").is_none());
    }
}
