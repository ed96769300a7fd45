//! `--output table`: compact, aligned tables of the control plane's resources for people (JSON stays the
//! default for scripts). Columns are padded to their widest cell and separated by two spaces.

use mica_control_api::{ClusterResource, ClusterStatus, DataCenterResource, ProvisioningState};

/// Renders a header and rows as aligned columns, one line each (the last column unpadded).
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, (cell, width)) in cells.zip(&widths).enumerate() {
            if i + 1 == widths.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  "));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut text = line(&mut headers.iter().copied());
    for row in rows {
        text.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    text
}

fn state(s: Option<ProvisioningState>) -> String {
    s.map_or("-", ProvisioningState::as_str).to_owned()
}

fn or_dash(s: Option<String>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or_else(|| "-".to_owned())
}

/// `mica cluster list|show --output table`.
pub fn clusters(clusters: &[ClusterResource]) -> String {
    let rows: Vec<Vec<String>> = clusters
        .iter()
        .map(|c| {
            let p = &c.properties;
            vec![
                or_dash(c.name.clone()),
                state(p.provisioning_state),
                or_dash(p.cassandra_version.clone()),
                or_dash(p.cluster_type.map(|t| format!("{t:?}"))),
                if p.deallocated == Some(true) { "yes" } else { "no" }.to_owned(),
                or_dash(Some(
                    p.seed_nodes
                        .iter()
                        .map(|s| s.ip_address.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                )),
            ]
        })
        .collect();
    render(
        &[
            "Name",
            "ProvisioningState",
            "CassandraVersion",
            "ClusterType",
            "Deallocated",
            "SeedNodes",
        ],
        &rows,
    )
}

/// `mica datacenter list|show --output table`.
pub fn data_centers(dcs: &[DataCenterResource]) -> String {
    let rows: Vec<Vec<String>> = dcs
        .iter()
        .map(|d| {
            let p = &d.properties;
            vec![
                or_dash(d.name.clone()),
                state(p.provisioning_state),
                or_dash(p.node_count.map(|n| n.to_string())),
                or_dash(p.sku.clone()),
                or_dash(Some(
                    p.seed_nodes
                        .iter()
                        .map(|s| s.ip_address.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                )),
            ]
        })
        .collect();
    render(
        &["Name", "ProvisioningState", "NodeCount", "Sku", "SeedNodes"],
        &rows,
    )
}

/// `mica cluster status --output table`: one line per node, like `nodetool status` condensed.
pub fn status(status: &ClusterStatus) -> String {
    let mut rows = Vec::new();
    for dc in &status.data_centers {
        for n in &dc.nodes {
            rows.push(vec![
                dc.name.clone(),
                n.address.clone(),
                n.status.clone(),
                n.state.clone(),
                or_dash(n.load.clone()),
                // Azure's `owns` is a fraction of the datacenter's data; shown in percent as nodetool does.
                or_dash(n.owns.map(|o| format!("{:.1}%", o * 100.0))),
                or_dash(n.rack.clone()),
                or_dash(n.host_id.clone()),
            ]);
        }
    }
    render(
        &[
            "DataCenter",
            "Address",
            "Status",
            "State",
            "Load",
            "Owns",
            "Rack",
            "HostID",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use mica_control_api::{ClusterProperties, DataCenterStatus, NodeStatus, SeedNode};

    use super::*;

    #[test]
    fn columns_align_to_the_widest_cell() {
        let text = render(
            &["A", "Long header", "C"],
            &[
                vec!["wide cell".into(), "x".into(), "last".into()],
                vec!["y".into(), "z".into(), "".into()],
            ],
        );
        assert_eq!(
            text,
            "A          Long header  C\nwide cell  x            last\ny          z\n"
        );
    }

    #[test]
    fn clusters_and_status_show_the_essentials() {
        let cluster = ClusterResource {
            name: Some("c1".into()),
            properties: ClusterProperties {
                provisioning_state: Some(ProvisioningState::Succeeded),
                cassandra_version: Some("4.0".into()),
                seed_nodes: vec![SeedNode {
                    ip_address: "127.0.1.1".into(),
                }],
                ..Default::default()
            },
            ..Default::default()
        };
        let text = clusters(&[cluster]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("Name  ProvisioningState"), "{text}");
        assert!(
            lines[1].starts_with("c1    Succeeded") && lines[1].ends_with("127.0.1.1"),
            "{text}"
        );
        let s = ClusterStatus {
            data_centers: vec![DataCenterStatus {
                name: "dc1".into(),
                seed_nodes: vec![],
                nodes: vec![NodeStatus {
                    address: "127.0.1.1".into(),
                    state: "Normal".into(),
                    status: "Up".into(),
                    load: Some("10 bytes".into()),
                    tokens: vec![],
                    owns: Some(0.6667),
                    host_id: Some("h1".into()),
                    rack: Some("rack1".into()),
                    timestamp: 0,
                    disk_used_kb: None,
                    disk_free_kb: None,
                    memory_used_kb: None,
                    memory_total_kb: None,
                    cpu_usage: None,
                }],
            }],
            repair: None,
        };
        let text = status(&s);
        assert_eq!(
            text.lines().nth(1),
            Some("dc1         127.0.1.1  Up      Normal  10 bytes  66.7%  rack1  h1"),
            "{text}"
        );
    }
}
