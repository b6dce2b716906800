"""Writes and reads rosbag2 bags with the independent PyPI `rosbags` package (0.11.9), so that
fusionrt-bag's tests compare against a writer and a reader that share no code with it.

  rosbags_io.py write OUT   writes OUT/<variant> bags and prints a JSON manifest of what is in them
  rosbags_io.py read BAG    reads BAG (definitions from the bag itself) and prints a JSON summary
"""

import hashlib
import json
import struct
import sys
from pathlib import Path

import numpy as np
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import Writer
from rosbags.rosbag2.enums import CompressionFormat, CompressionMode, StoragePlugin
from rosbags.typesys import Stores, get_typestore, get_types_from_msg

STORE = get_typestore(Stores.ROS2_JAZZY)
PACKET_MSG = "builtin_interfaces/Time stamp\nuint8[] data\n"
STORE.register(get_types_from_msg(PACKET_MSG, "velodyne_msgs/msg/VelodynePacket"))
T = STORE.types

FRAMES = 5
PERIOD_NS = 100_000_000
START_NS = 1_700_000_000_000_000_000


def sha(data) -> str:
    return hashlib.sha256(bytes(data)).hexdigest()


def header(stamp_ns: int, frame: str):
    return T["std_msgs/msg/Header"](
        stamp=T["builtin_interfaces/msg/Time"](sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9),
        frame_id=frame,
    )


def cloud(i: int, stamp_ns: int):
    """x y z intensity (f32), ring (u16), 2 bytes padding, t (f64): point_step 32."""
    n = 500 + i
    data = bytearray()
    for k in range(n):
        data += struct.pack("<ffffHxxxxxxd", k * 0.1, -k * 0.05, 1.5 + i, float(k % 255), k % 64, k * 1e-5)
    PF = T["sensor_msgs/msg/PointField"]
    fields = [
        PF(name="x", offset=0, datatype=7, count=1),
        PF(name="y", offset=4, datatype=7, count=1),
        PF(name="z", offset=8, datatype=7, count=1),
        PF(name="intensity", offset=12, datatype=7, count=1),
        PF(name="ring", offset=16, datatype=4, count=1),
        PF(name="t", offset=24, datatype=8, count=1),
    ]
    return T["sensor_msgs/msg/PointCloud2"](
        header=header(stamp_ns, "velodyne"), height=1, width=n, fields=fields,
        is_bigendian=False, point_step=32, row_step=32 * n,
        data=np.frombuffer(bytes(data), dtype=np.uint8), is_dense=True,
    )


def image(i: int, stamp_ns: int):
    w, h, step = 16, 8, 16 * 3 + 4
    data = np.array([(i * 7 + k) % 256 for k in range(step * h)], dtype=np.uint8)
    return T["sensor_msgs/msg/Image"](
        header=header(stamp_ns, "camera0"), height=h, width=w, encoding="rgb8",
        is_bigendian=0, step=step, data=data,
    )


def write(out: Path) -> None:
    variants = {
        "mcap": (StoragePlugin.MCAP, None),
        "mcap_zstd_chunks": (StoragePlugin.MCAP, CompressionMode.STORAGE),
        "sqlite3": (StoragePlugin.SQLITE3, None),
        "sqlite3_zstd_file": (StoragePlugin.SQLITE3, CompressionMode.FILE),
        "sqlite3_zstd_message": (StoragePlugin.SQLITE3, CompressionMode.MESSAGE),
    }
    manifest = {}
    for name, (storage, compression) in variants.items():
        clouds, images = [], []
        w = Writer(out / name, version=9, storage_plugin=storage)
        if compression is not None:
            w.set_compression(compression, CompressionFormat.ZSTD)
        with w:
            c_cloud = w.add_connection("/sensing/lidar/pointcloud", "sensor_msgs/msg/PointCloud2", typestore=STORE)
            c_img = w.add_connection("/camera0/image_raw", "sensor_msgs/msg/Image", typestore=STORE)
            c_info = w.add_connection("/camera0/camera_info", "sensor_msgs/msg/CameraInfo", typestore=STORE)
            c_tf = w.add_connection("/tf_static", "tf2_msgs/msg/TFMessage", typestore=STORE)
            c_str = w.add_connection("/chatter", "std_msgs/msg/String", typestore=STORE)
            c_pkt = w.add_connection("/velodyne_packets", "velodyne_msgs/msg/VelodynePacket", typestore=STORE)
            tf = T["tf2_msgs/msg/TFMessage"](transforms=[T["geometry_msgs/msg/TransformStamped"](
                header=header(START_NS, "base_link"), child_frame_id="velodyne",
                transform=T["geometry_msgs/msg/Transform"](
                    translation=T["geometry_msgs/msg/Vector3"](x=0.8, y=0.0, z=1.73),
                    rotation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)))])
            w.write(c_tf, START_NS, STORE.serialize_cdr(tf, "tf2_msgs/msg/TFMessage"))
            for i in range(FRAMES):
                stamp = START_NS + i * PERIOD_NS
                pc = cloud(i, stamp)
                clouds.append({"stamp_ns": stamp, "width": pc.width, "sha256": sha(pc.data)})
                # Written in receive order: packets, image, info and cloud at different offsets.
                pkt = T["velodyne_msgs/msg/VelodynePacket"](
                    stamp=header(stamp + 1, "").stamp, data=np.zeros(1206, dtype=np.uint8))
                w.write(c_pkt, stamp + 1, STORE.serialize_cdr(pkt, "velodyne_msgs/msg/VelodynePacket"))
                w.write(c_cloud, stamp + 2, STORE.serialize_cdr(pc, "sensor_msgs/msg/PointCloud2"))
                img = image(i, stamp)
                images.append({"stamp_ns": stamp, "sha256": sha(img.data)})
                w.write(c_img, stamp + 3, STORE.serialize_cdr(img, "sensor_msgs/msg/Image"))
                info = T["sensor_msgs/msg/CameraInfo"](
                    header=header(stamp, "camera0"), height=8, width=16, distortion_model="plumb_bob",
                    d=np.zeros(5), k=np.array([100.0, 0, 8, 0, 100, 4, 0, 0, 1]),
                    r=np.eye(3).flatten(), p=np.array([100.0, 0, 8, 0, 0, 100, 4, 0, 0, 0, 1, 0]),
                    binning_x=0, binning_y=0,
                    roi=T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))
                w.write(c_info, stamp + 4, STORE.serialize_cdr(info, "sensor_msgs/msg/CameraInfo"))
                w.write(c_str, stamp + 5, STORE.serialize_cdr(T["std_msgs/msg/String"](data=f"frame {i}"), "std_msgs/msg/String"))
        manifest[name] = {"clouds": clouds, "images": images, "tf_stamp_ns": START_NS}
    print(json.dumps(manifest))


def summarize(msg, msgtype: str) -> dict:
    out = {}
    if hasattr(msg, "header"):
        out["header_stamp_ns"] = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        out["frame_id"] = msg.header.frame_id
    if msgtype == "sensor_msgs/msg/PointCloud2":
        out.update(width=msg.width, point_step=msg.point_step, fields=[f.name for f in msg.fields], sha256=sha(msg.data))
    elif msgtype == "sensor_msgs/msg/Image":
        out.update(width=msg.width, height=msg.height, encoding=msg.encoding, step=msg.step, sha256=sha(msg.data))
    elif msgtype == "sensor_msgs/msg/CompressedImage":
        out.update(format=msg.format, sha256=sha(msg.data))
    elif msgtype == "sensor_msgs/msg/CameraInfo":
        out.update(width=msg.width, height=msg.height, k=[float(v) for v in msg.k], p=[float(v) for v in msg.p])
    elif msgtype == "tf2_msgs/msg/TFMessage":
        out["transforms"] = [
            [t.header.frame_id, t.child_frame_id,
             [t.transform.translation.x, t.transform.translation.y, t.transform.translation.z],
             [t.transform.rotation.x, t.transform.rotation.y, t.transform.rotation.z, t.transform.rotation.w]]
            for t in msg.transforms]
    elif msgtype in ("autoware_perception_msgs/msg/TrackedObjects", "autoware_perception_msgs/msg/DetectedObjects"):
        out["objects"] = [{
            "label": o.classification[0].label if len(o.classification) else None,
            "probability": float(o.existence_probability),
            "position_m": [o.kinematics.pose_with_covariance.pose.position.x,
                           o.kinematics.pose_with_covariance.pose.position.y,
                           o.kinematics.pose_with_covariance.pose.position.z],
            "dimensions_m": [o.shape.dimensions.x, o.shape.dimensions.y, o.shape.dimensions.z],
            **({"uuid": list(o.object_id.uuid)} if hasattr(o, "object_id") else {}),
        } for o in msg.objects]
    elif msgtype == "visualization_msgs/msg/MarkerArray":
        out["markers"] = [[m.ns, m.id, m.type, m.text, len(m.points)] for m in msg.markers]
    elif msgtype == "diagnostic_msgs/msg/DiagnosticArray":
        out["status"] = [[s.name, s.level, [[kv.key, kv.value] for kv in s.values]] for s in msg.status]
    elif msgtype == "nav_msgs/msg/Odometry":
        out["position_m"] = [msg.pose.pose.position.x, msg.pose.pose.position.y, msg.pose.pose.position.z]
    return out


def read(bag: Path) -> None:
    topics = {}
    # No typestore given: every type comes from the definitions stored in the bag.
    with AnyReader([bag]) as reader:
        for conn, stamp, raw in reader.messages():
            msg = reader.deserialize(raw, conn.msgtype)
            t = topics.setdefault(conn.topic, {"type": conn.msgtype, "stamps_ns": [], "messages": []})
            t["stamps_ns"].append(stamp)
            t["messages"].append(summarize(msg, conn.msgtype))
    print(json.dumps({"topics": topics}, default=lambda o: o.tolist()))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "read"):
        sys.exit(__doc__)
    (write if sys.argv[1] == "write" else read)(Path(sys.argv[2]))
