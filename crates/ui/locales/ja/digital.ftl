# デジタルコピー（元の写真と印刷履歴のZIP）。アルバムで注文し、仕上がり後に注文ページからダウンロード。

digital-line = デジタルコピー（元の写真と印刷履歴のZIP）
digital-choose = デジタルコピーも注文する：元の写真と印刷履歴をZIPで、プリントの仕上がり後にダウンロード
digital-choose-price = （1注文につき{ $price }）
digital-download = デジタルコピーをダウンロード
digital-download-hint = アップロードしたままの写真と、いつどこで印刷したかの記録が入ったZIPです。
digital-later = デジタルコピーは、プリントが受け取り可能になるとここからダウンロードできます。
