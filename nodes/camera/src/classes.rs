//! Mapping of model class names (COCO) to the perception classes.

use fusionrt_core::ObjectClass;

/// The perception class of a model class name, or `None` for classes that are no road
/// obstacle (a cup, a traffic light). Large animals and trains are obstacles of unknown class.
pub fn perception_class(name: &str) -> Option<ObjectClass> {
    Some(match name {
        "person" | "pedestrian" => ObjectClass::Pedestrian,
        "bicycle" | "cyclist" => ObjectClass::Bicycle,
        "car" => ObjectClass::Car,
        "motorcycle" | "motorbike" => ObjectClass::Motorcycle,
        "bus" => ObjectClass::Bus,
        "truck" => ObjectClass::Truck,
        "train" | "dog" | "horse" | "sheep" | "cow" | "elephant" | "bear" | "zebra" | "giraffe" => {
            ObjectClass::Unknown
        }
        _ => return None,
    })
}

/// NMS group of each class: vehicles (car, truck, bus, and train, which the model gives to
/// buses and trams) share one group, every other class is its own.
pub fn nms_groups(classes: &[String]) -> Vec<u32> {
    let vehicle = classes
        .iter()
        .position(|c| perception_class(c).is_some_and(ObjectClass::is_vehicle));
    classes
        .iter()
        .enumerate()
        .map(|(i, c)| match (perception_class(c), vehicle) {
            (Some(p), Some(v)) if p.is_vehicle() || c == "train" => v as u32,
            _ => i as u32,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coco_names_map_to_perception_classes() {
        assert_eq!(perception_class("person"), Some(ObjectClass::Pedestrian));
        assert_eq!(perception_class("truck"), Some(ObjectClass::Truck));
        assert_eq!(perception_class("horse"), Some(ObjectClass::Unknown));
        assert_eq!(perception_class("cup"), None);
        let names: Vec<String> = [
            "person",
            "bicycle",
            "car",
            "motorcycle",
            "bus",
            "train",
            "truck",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(nms_groups(&names), vec![0, 1, 2, 3, 2, 2, 2]);
    }
}
