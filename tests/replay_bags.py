"""Independent references for `fusionrt replay` and `fusionrt convert kitti` tests: PyPI
`rosbags` (writer and reader), `mcap` + `mcap-ros2-support` (reader), numpy and Pillow share no
code with fusionrt.

  replay_bags.py write KITTI_RAW OUT STORAGE IMAGES
      writes a rosbag2 bag OUT (STORAGE mcap|sqlite3; IMAGES raw|compressed) from a KITTI raw
      drive: /tf_static (base_link -> velodyne -> camera0, from calib.txt with numpy), per frame
      the image and CameraInfo, then the cloud (x y z intensity), stamped frame * 100 ms.
  replay_bags.py read-output MCAP
      decodes every message of replay's output.mcap twice, with rosbags (definitions from the
      file) and with mcap + mcap-ros2-support, and prints a JSON summary (counts per topic and
      reader, the tracks per sweep).
  replay_bags.py read-convert BAG KITTI_RAW
      reads a bag written by `fusionrt convert kitti` with rosbags and compares it with the
      KITTI files: types, counts, stamps, the first cloud's bytes with the .bin file, the first
      image with the PNG (raw: decoded pixels; compressed: the file's bytes). Prints JSON.
"""

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image as PilImage
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import Writer
from rosbags.rosbag2.enums import StoragePlugin
from rosbags.typesys import Stores, get_typestore

STORE = get_typestore(Stores.ROS2_JAZZY)
T = STORE.types
PERIOD_NS = 100_000_000
CLOUD = "/sensing/lidar/pointcloud"
IMAGE = "/sensing/camera/camera0/image_raw"
INFO = "/sensing/camera/camera0/camera_info"


def header(stamp_ns: int, frame: str):
    return T["std_msgs/msg/Header"](
        stamp=T["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9),
        frame_id=frame,
    )


def read_calib(path: Path) -> dict:
    calib = {}
    for line in path.read_text().splitlines():
        if ":" in line:
            key, values = line.split(":", 1)
            try:
                calib[key.strip()] = np.array([float(v) for v in values.split()])
            except ValueError:
                pass
    return calib


def quaternion(r: np.ndarray) -> list:
    """Unit quaternion [x, y, z, w] of a rotation matrix (Shepperd's method)."""
    t = np.trace(r)
    if t > 0:
        s = 2.0 * np.sqrt(1.0 + t)
        return [(r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s, 0.25 * s]
    i = int(np.argmax(np.diag(r)))
    j, k = (i + 1) % 3, (i + 2) % 3
    s = 2.0 * np.sqrt(1.0 + r[i, i] - r[j, j] - r[k, k])
    q = [0.0, 0.0, 0.0, 0.0]
    q[i] = 0.25 * s
    q[j] = (r[j, i] + r[i, j]) / s
    q[k] = (r[k, i] + r[i, k]) / s
    q[3] = (r[k, j] - r[j, k]) / s
    return q


def transform(parent: str, child: str, rot: np.ndarray, trans: np.ndarray, stamp_ns: int):
    q = quaternion(rot)
    return T["geometry_msgs/msg/TransformStamped"](
        header=header(stamp_ns, parent), child_frame_id=child,
        transform=T["geometry_msgs/msg/Transform"](
            translation=T["geometry_msgs/msg/Vector3"](x=trans[0], y=trans[1], z=trans[2]),
            rotation=T["geometry_msgs/msg/Quaternion"](x=q[0], y=q[1], z=q[2], w=q[3])))


def write(raw: Path, out: Path, storage: str, images: str) -> None:
    calib = read_calib(raw / "calib.txt")
    p2 = calib["P2"].reshape(3, 4)
    k = p2[:, :3]
    r0 = calib["R0_rect"].reshape(3, 3)
    tr = calib["Tr_velo_to_cam"].reshape(3, 4)
    # camera0 = the rectified optical frame of camera 2: x_cam = R0 (R x_velo + t) + K^-1 p2[:, 3].
    rot = r0 @ tr[:, :3]
    u, _, vt = np.linalg.svd(rot)
    rot = u @ vt
    trans = r0 @ tr[:, 3] + np.linalg.solve(k, p2[:, 3])
    velo_from_cam_rot = rot.T
    velo_from_cam_t = -rot.T @ trans
    scans = sorted((raw / "velodyne_points" / "data").glob("*.bin"))
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(out, version=9, storage_plugin=plugin) as w:
        c_tf = w.add_connection("/tf_static", "tf2_msgs/msg/TFMessage", typestore=STORE)
        c_cloud = w.add_connection(CLOUD, "sensor_msgs/msg/PointCloud2", typestore=STORE)
        if images == "compressed":
            c_img = w.add_connection(IMAGE + "/compressed", "sensor_msgs/msg/CompressedImage", typestore=STORE)
        else:
            c_img = w.add_connection(IMAGE, "sensor_msgs/msg/Image", typestore=STORE)
        c_info = w.add_connection(INFO, "sensor_msgs/msg/CameraInfo", typestore=STORE)
        first_ns = int(scans[0].stem) * PERIOD_NS
        tf = T["tf2_msgs/msg/TFMessage"](transforms=[
            transform("base_link", "velo_link", np.eye(3), np.array([0.0, 0.0, 1.73]), first_ns),
            transform("velo_link", "camera0", velo_from_cam_rot, velo_from_cam_t, first_ns),
        ])
        w.write(c_tf, first_ns, STORE.serialize_cdr(tf, "tf2_msgs/msg/TFMessage"))
        PF = T["sensor_msgs/msg/PointField"]
        fields = [PF(name=n, offset=4 * i, datatype=7, count=1) for i, n in enumerate("x y z intensity".split())]
        for scan in scans:
            stamp = int(scan.stem) * PERIOD_NS
            png = raw / "image_02" / "data" / (scan.stem + ".png")
            if png.is_file():
                if images == "compressed":
                    msg = T["sensor_msgs/msg/CompressedImage"](
                        header=header(stamp, "camera0"), format="png",
                        data=np.frombuffer(png.read_bytes(), dtype=np.uint8))
                    w.write(c_img, stamp, STORE.serialize_cdr(msg, "sensor_msgs/msg/CompressedImage"))
                    width, height = PilImage.open(png).size
                else:
                    pixels = np.asarray(PilImage.open(png).convert("RGB"), dtype=np.uint8)
                    height, width = pixels.shape[:2]
                    msg = T["sensor_msgs/msg/Image"](
                        header=header(stamp, "camera0"), height=height, width=width, encoding="rgb8",
                        is_bigendian=0, step=width * 3, data=pixels.reshape(-1))
                    w.write(c_img, stamp, STORE.serialize_cdr(msg, "sensor_msgs/msg/Image"))
                kk = k.flatten()
                info = T["sensor_msgs/msg/CameraInfo"](
                    header=header(stamp, "camera0"), height=height, width=width,
                    distortion_model="plumb_bob", d=np.zeros(5), k=kk, r=np.eye(3).flatten(),
                    p=np.array([kk[0], kk[1], kk[2], 0, kk[3], kk[4], kk[5], 0, 0, 0, 1, 0]),
                    binning_x=0, binning_y=0,
                    roi=T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))
                w.write(c_info, stamp, STORE.serialize_cdr(info, "sensor_msgs/msg/CameraInfo"))
            data = np.frombuffer(scan.read_bytes(), dtype=np.uint8)
            n = len(data) // 16
            pc = T["sensor_msgs/msg/PointCloud2"](
                header=header(stamp, "velo_link"), height=1, width=n, fields=fields,
                is_bigendian=False, point_step=16, row_step=16 * n, data=data, is_dense=True)
            w.write(c_cloud, stamp, STORE.serialize_cdr(pc, "sensor_msgs/msg/PointCloud2"))
    print(json.dumps({"scans": len(scans)}))


def track_summary(msg) -> list:
    return [{
        "id": bytes(o.object_id.uuid).hex(),
        "label": int(o.classification[0].label) if len(o.classification) else None,
        "center_m": [o.kinematics.pose_with_covariance.pose.position.x,
                     o.kinematics.pose_with_covariance.pose.position.y,
                     o.kinematics.pose_with_covariance.pose.position.z],
        "size_m": [o.shape.dimensions.x, o.shape.dimensions.y, o.shape.dimensions.z],
    } for o in msg.objects]


def read_output(path: Path) -> None:
    counts_rosbags, counts_mcap = {}, {}
    tracks = []
    with AnyReader([path]) as reader:
        for conn, stamp, raw in reader.messages():
            msg = reader.deserialize(raw, conn.msgtype)
            counts_rosbags[conn.topic] = counts_rosbags.get(conn.topic, 0) + 1
            if conn.msgtype == "autoware_perception_msgs/msg/TrackedObjects":
                s = msg.header.stamp
                assert s.sec * 10**9 + s.nanosec == stamp, "header stamp = log time"
                tracks.append({"stamp_ns": stamp, "frame_id": msg.header.frame_id,
                               "tracks": track_summary(msg)})
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory
    schemas = {}
    with open(path, "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        for schema, channel, message, decoded in reader.iter_decoded_messages():
            counts_mcap[channel.topic] = counts_mcap.get(channel.topic, 0) + 1
            schemas[channel.topic] = [schema.name, schema.encoding, channel.message_encoding]
            if schema.name == "autoware_perception_msgs/msg/TrackedObjects":
                assert len(decoded.objects) == len(tracks[counts_mcap[channel.topic] - 1]["tracks"])
            if schema.name == "visualization_msgs/msg/MarkerArray":
                assert decoded.markers[0].action == 3, "each MarkerArray starts with DELETEALL"
    print(json.dumps({"rosbags": counts_rosbags, "mcap": counts_mcap, "schemas": schemas,
                      "tracks": tracks}))


def read_convert(bag: Path, raw: Path) -> None:
    scans = sorted((raw / "velodyne_points" / "data").glob("*.bin"))
    out = {"types": {}, "counts": {}, "stamps_ok": True, "cloud_bytes_equal": None,
           "image_bytes_equal": None}
    expected = [int(s.stem) * PERIOD_NS for s in scans]
    stamps = {}
    with AnyReader([bag]) as reader:
        for conn in reader.connections:
            out["types"][conn.topic] = conn.msgtype
        for conn, stamp, raw_bytes in reader.messages():
            msg = reader.deserialize(raw_bytes, conn.msgtype)
            out["counts"][conn.topic] = out["counts"].get(conn.topic, 0) + 1
            stamps.setdefault(conn.topic, []).append(stamp)
            if conn.msgtype == "sensor_msgs/msg/PointCloud2" and out["cloud_bytes_equal"] is None:
                out["cloud_bytes_equal"] = bytes(msg.data) == scans[0].read_bytes()
                out["cloud_fields"] = [f.name for f in msg.fields]
            if conn.msgtype in ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage") \
                    and out["image_bytes_equal"] is None:
                png = raw / "image_02" / "data" / (scans[0].stem + ".png")
                if conn.msgtype == "sensor_msgs/msg/CompressedImage":
                    out["image_bytes_equal"] = bytes(msg.data) == png.read_bytes()
                else:
                    pixels = np.asarray(PilImage.open(png).convert("RGB"), dtype=np.uint8)
                    out["image_bytes_equal"] = (msg.encoding == "rgb8" and msg.step == msg.width * 3
                                                and bytes(msg.data) == pixels.tobytes())
    for topic, s in stamps.items():
        if topic != "/tf_static" and s != expected:
            out["stamps_ok"] = False
    print(json.dumps(out))


if __name__ == "__main__":
    verb = sys.argv[1]
    if verb == "write":
        write(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif verb == "read-output":
        read_output(Path(sys.argv[2]))
    elif verb == "read-convert":
        read_convert(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        sys.exit(f"unknown verb {verb}")
