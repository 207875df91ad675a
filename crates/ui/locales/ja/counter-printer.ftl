# 店舗のプリンター: プリントデータで届いたインターネット注文をこの店舗で印刷する。
printer-nav = プリンター
printer-title = 店舗で印刷
printer-intro = この店舗あてのインターネット注文はプリントデータで届き、{ $printer } で印刷します。
printer-none = この店舗には自店のプリンターがありません。注文はラボから荷物で届きます。
printer-empty = プリントデータで届いた注文はまだありません。
printer-col-reception = 受付番号
printer-col-customer = お客様
printer-col-lab = ラボと受付番号
printer-col-state = 状況
printer-receiving = データ受信中
printer-printing = { $times } にデータ受信、印刷中
printer-ready = { $times } にデータ受信、印刷済み：お渡しできます
printer-failed = { $times } にデータ受信、印刷できません：{ $reason }
printer-out = 印刷が終わりました
