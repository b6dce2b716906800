"""Starts fusionrt_node: lidar + cameras -> tracks, in one process.

    ros2 launch launch/fusionrt.launch.py [namespace:=/perception] [params_file:=FILE]
        [cameras:=1] [camera:=model|none] [use_sim_time:=true|false] [rt_priority:=10]

Topics are relative (input/pointcloud, input/camera<i>/image[/compressed],
input/camera<i>/camera_info, input/odometry -> output/objects, output/detected_objects,
output/markers), so the namespace and remapping apply; /tf, /tf_static and /diagnostics are
absolute. The node runs with the Fast DDS profile beside this file (large clouds over shared
memory without fragment loss), its threads under SCHED_FIFO at rt_priority (0: normal
scheduling; without the permission the node warns and runs at normal priority).
"""

import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

HERE = os.path.dirname(os.path.realpath(__file__))


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument('namespace', default_value='',
                              description='namespace of the node and its relative topics'),
        DeclareLaunchArgument('params_file',
                              default_value=os.path.join(HERE, 'fusionrt.yaml'),
                              description='parameter file (the CLI config tree, ROS 2 form)'),
        DeclareLaunchArgument('cameras', default_value='1',
                              description='number of cameras (input/camera<i>/...)'),
        DeclareLaunchArgument('camera', default_value='model',
                              description='model: run the camera model; none: lidar-only'),
        DeclareLaunchArgument('use_sim_time', default_value='false',
                              description='true: the node clock follows /clock (bag replay)'),
        DeclareLaunchArgument('rt_priority', default_value='10',
                              description='SCHED_FIFO priority of the node (1-99), 0: off'),
        SetEnvironmentVariable('FASTRTPS_DEFAULT_PROFILES_FILE',
                               os.path.join(HERE, 'fastdds.xml')),
        Node(
            package='fusionrt',
            executable='fusionrt_node',
            name='fusionrt',
            namespace=LaunchConfiguration('namespace'),
            arguments=['--cameras', LaunchConfiguration('cameras'),
                       '--camera', LaunchConfiguration('camera'),
                       '--rt-priority', LaunchConfiguration('rt_priority')],
            parameters=[LaunchConfiguration('params_file'),
                        {'use_sim_time': LaunchConfiguration('use_sim_time')}],
            output='screen',
        ),
    ])
