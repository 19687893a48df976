import java.io.FileInputStream;
import java.security.Key;
import java.security.KeyStore;
import java.util.Collections;
import java.util.HexFormat;

public class DumpSecretKeys {
    public static void main(String[] args) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(new FileInputStream(args[0]), "changeit".toCharArray());
        for (String alias : Collections.list(ks.aliases())) {
            Key k = ks.getKey(alias, "changeit".toCharArray());
            if (k instanceof javax.crypto.SecretKey) {
                System.out.println(alias + " " + k.getAlgorithm() + " " + HexFormat.of().formatHex(k.getEncoded()));
            }
        }
    }
}
