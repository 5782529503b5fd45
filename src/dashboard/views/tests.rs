//! What each row of the dashboard shows, checked on fixed objects.

use super::*;
use serde_json::json;

fn from<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).unwrap()
}

#[test]
fn bytes_are_humane() {
    assert_eq!(human_bytes("16303548Ki"), "15.5 GiB");
    assert_eq!(human_bytes("512Mi"), "512 MiB");
    assert_eq!(human_bytes("1.5Gi"), "1.5Gi", "unparsable stays as it is");
}

#[test]
fn node_row_shows_readiness_version_and_capacity() {
    let node: Node = from(json!({
        "metadata": {"name": "dev", "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "spec": {"podCIDR": "10.244.0.0/24"},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "DiskPressure", "status": "True"},
                {"type": "Ready", "status": "True"}
            ],
            "addresses": [{"type": "InternalIP", "address": "172.30.0.3"}],
            "capacity": {"cpu": "2", "memory": "2097152Ki", "pods": "110"},
            "nodeInfo": {"kubeletVersion": "v1.35.0", "osImage": "Debian", "containerRuntimeVersion": "containerd://2.1",
                "architecture": "amd64", "bootID": "", "kernelVersion": "", "kubeProxyVersion": "", "machineID": "",
                "operatingSystem": "linux", "systemUUID": ""}
        }
    }));
    let row = node_row(&node);
    assert_eq!(row.status, "Ready");
    assert_eq!(row.problems, vec!["DiskPressure"]);
    assert_eq!(row.roles, "control-plane");
    assert_eq!(row.version, "v1.35.0");
    assert_eq!(row.internal_ip, "172.30.0.3");
    assert_eq!((row.cpu.as_str(), row.memory.as_str()), ("2", "2.0 GiB"));
}

#[test]
fn deployment_row_has_desired_current_ready() {
    let d: Deployment = from(json!({
        "metadata": {"name": "kubia", "namespace": "default"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "kubia"}},
            "template": {"spec": {"containers": [{"name": "kubia", "image": "kubia:1.0"}]}}},
        "status": {"replicas": 2, "readyReplicas": 1, "updatedReplicas": 2}
    }));
    let row = deployment_row(&d);
    assert_eq!((row.desired, row.current, row.ready), (3, 2, 1));
    assert_eq!(row.selector, "app=kubia");
    assert_eq!(row.images, vec!["kubia:1.0"]);
}

#[test]
fn replica_set_row_names_its_deployment() {
    let rs: ReplicaSet = from(json!({
        "metadata": {"name": "kubia-abc", "namespace": "default", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "kubia", "uid": "1", "controller": true}
        ]},
        "spec": {"selector": {"matchLabels": {"app": "kubia"}}},
        "status": {"replicas": 1}
    }));
    let row = replica_set_row(&rs);
    assert_eq!(row.owner.as_deref(), Some("Deployment/kubia"));
    assert_eq!((row.desired, row.current, row.ready), (1, 1, 0));
}

#[test]
fn pod_status_reads_like_kubectl() {
    let creating: Pod = from(json!({
        "metadata": {"name": "p"},
        "status": {"phase": "Pending", "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": false,
            "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}
    }));
    assert_eq!(pod_status(&creating), "ContainerCreating");
    let running: Pod = from(json!({
        "metadata": {"name": "p", "namespace": "default", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "kubia-abc", "uid": "1", "controller": true}
        ]},
        "spec": {"nodeName": "dev", "containers": [{"name": "c"}]},
        "status": {"phase": "Running", "podIP": "10.244.0.5", "containerStatuses": [{"name": "c", "image": "i",
            "imageID": "", "ready": true, "restartCount": 2, "state": {"running": {}}}]}
    }));
    let row = pod_row(&running);
    assert_eq!(row.status, "Running");
    assert_eq!((row.ready, row.restarts), (1, 2));
    assert_eq!(row.owner.as_deref(), Some("ReplicaSet/kubia-abc"));
    let mut deleting = running.clone();
    deleting.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
    assert_eq!(pod_status(&deleting), "Terminating");
    assert!(pod_row(&deleting).terminating);
    let init: Pod = from(json!({
        "metadata": {"name": "p"},
        "status": {"phase": "Pending", "initContainerStatuses": [{"name": "i", "image": "i", "imageID": "",
            "ready": false, "restartCount": 0, "state": {"running": {}}}]}
    }));
    assert_eq!(pod_status(&init), "Init:0/1");
}

#[test]
fn service_row_links_the_urls_localkube_service_prints() {
    let node: Node = from(json!({
        "metadata": {"name": "dev"},
        "status": {"addresses": [{"type": "InternalIP", "address": "172.30.0.3"}]}
    }));
    let svc: Service = from(json!({
        "metadata": {"name": "kubia", "namespace": "default"},
        "spec": {"type": "NodePort", "clusterIP": "10.96.0.20", "selector": {"app": "kubia"},
            "ports": [{"port": 8080, "nodePort": 31234, "protocol": "TCP"}]}
    }));
    let row = service_row(&svc, &[node]);
    assert_eq!(row.ports, "8080:31234/TCP");
    assert_eq!(row.external, "<none>");
    assert_eq!(row.urls[0].url, "http://172.30.0.3:31234");
    let lb: Service = from(json!({
        "metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}
    }));
    let row = service_row(&lb, &[]);
    assert_eq!(row.external, "<pending>");
    assert!(row.urls.is_empty() && row.no_url.is_some());
    let internal: Service =
        from(json!({"metadata": {"name": "db"}, "spec": {"ports": [{"port": 5432}]}}));
    assert!(
        service_row(&internal, &[])
            .no_url
            .unwrap()
            .contains("inside the cluster")
    );
}

#[test]
fn ingress_row_shows_its_address_and_how_to_reach_each_host() {
    let ingress: Ingress = from(json!({
        "metadata": {"name": "kubia", "namespace": "default"},
        "spec": {
            "ingressClassName": "traefik",
            "tls": [{"hosts": ["kubia.example.com"], "secretName": "tls-secret"}],
            "rules": [
                {"host": "kubia.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": "kubia-nodeport", "port": {"number": 80}}}}]}},
                {"host": "plain.example.com", "http": {"paths": [{"path": "/foo", "pathType": "Prefix",
                    "backend": {"service": {"name": "foo", "port": {"name": "http"}}}}]}},
                {"http": {"paths": [{"path": "/any", "pathType": "Prefix",
                    "backend": {"service": {"name": "any", "port": {"number": 8080}}}}]}}
            ]
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "127.30.1.3"}]}}
    }));
    let row = ingress_row(&ingress);
    assert_eq!(row.class, "traefik");
    assert_eq!(row.address, "127.30.1.3");
    assert_eq!(row.ports, "80, 443");
    assert!(row.no_url.is_none());
    assert_eq!(row.routes[0].url, "https://kubia.example.com/");
    assert_eq!(row.routes[0].backend, "kubia-nodeport:80");
    assert_eq!(
        row.routes[0].curl.as_deref(),
        Some(
            "curl --resolve kubia.example.com:443:127.30.1.3 --cacert CERT https://kubia.example.com/"
        )
    );
    assert_eq!(
        row.routes[1].curl.as_deref(),
        Some("curl -H 'Host: plain.example.com' http://127.30.1.3/foo")
    );
    assert_eq!(row.routes[1].backend, "foo:http");
    assert_eq!(row.routes[2].url, "http://*/any");
    assert_eq!(row.routes[2].link.as_deref(), Some("http://127.30.1.3/any"));

    let pending: Ingress = from(json!({
        "metadata": {"name": "p"},
        "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}
    }));
    let row = ingress_row(&pending);
    assert_eq!((row.class.as_str(), row.ports.as_str()), ("<none>", "80"));
    assert_eq!(row.routes[0].backend, "web:80");
    assert!(row.routes[0].link.is_none() && row.no_url.unwrap().contains("pending"));
}

#[test]
fn event_row_names_its_object() {
    let e: Event = from(json!({
        "metadata": {"name": "e", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "kubia-x"},
        "reason": "Killing", "message": "Stopping container kubia\n", "type": "Normal", "count": 2,
        "source": {"component": "kubelet"}, "lastTimestamp": "2025-01-01T00:00:00Z"
    }));
    let row = event_row(&e);
    assert_eq!(row.object, "Pod/kubia-x");
    assert_eq!(row.message, "Stopping container kubia");
    assert_eq!((row.count, row.source.as_str()), (2, "kubelet"));
    assert_eq!(row.last_seen.as_deref(), Some("2025-01-01T00:00:00Z"));
}
