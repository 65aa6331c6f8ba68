// What the cluster chaos scenarios need to know of a Kafka cluster, as one JSON line: the KRaft
// quorum's leader (the active controller), and for each partition of the given topics its leader
// and in-sync replicas. Run by chaos.py with Java's source launcher:
//
//   java -cp '<kafka jars>/*' KafkaCluster.java <bootstrap servers> [topic...]
//   {"controller": 2, "brokers": [1, 2, 3],
//    "partitions": {"meldpunt.case-events.v1/0": {"leader": 1, "isr": [1, 2, 3]}, ...}}
//
// A partition without a leader has "leader": -1. Exit status 1 (and the error on stderr) when the
// cluster does not answer within 15 s.
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.QuorumInfo;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartitionInfo;

public class KafkaCluster {
  public static void main(String[] args) throws Exception {
    Properties properties = new Properties();
    properties.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    properties.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
    properties.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "15000");
    List<String> topics = new ArrayList<>(Arrays.asList(args).subList(1, args.length));
    try (Admin admin = Admin.create(properties)) {
      QuorumInfo quorum = admin.describeMetadataQuorum().quorumInfo().get(15, TimeUnit.SECONDS);
      List<Integer> brokers = new ArrayList<>();
      for (Node node : admin.describeCluster().nodes().get(15, TimeUnit.SECONDS)) {
        brokers.add(node.id());
      }
      brokers.sort(null);
      StringBuilder out = new StringBuilder();
      out.append("{\"controller\": ").append(quorum.leaderId());
      out.append(", \"brokers\": ").append(brokers);
      out.append(", \"partitions\": {");
      TreeMap<String, String> partitions = new TreeMap<>();
      if (!topics.isEmpty()) {
        for (TopicDescription topic :
            admin.describeTopics(topics).allTopicNames().get(15, TimeUnit.SECONDS).values()) {
          for (TopicPartitionInfo p : topic.partitions()) {
            List<Integer> isr = new ArrayList<>();
            for (Node node : p.isr()) isr.add(node.id());
            isr.sort(null);
            int leader = p.leader() == null ? -1 : p.leader().id();
            partitions.put(
                topic.name() + "/" + p.partition(),
                "{\"leader\": " + leader + ", \"isr\": " + isr + "}");
          }
        }
      }
      boolean first = true;
      for (var entry : partitions.entrySet()) {
        if (!first) out.append(", ");
        first = false;
        out.append('"').append(entry.getKey()).append("\": ").append(entry.getValue());
      }
      out.append("}}");
      System.out.println(out);
    }
  }
}
